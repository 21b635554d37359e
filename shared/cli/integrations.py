"""``integration``: Azure DevOps organizations, their secrets, options and Sentry orgs."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from shared.cli.output import confirm, id_argument, print_json, yes_argument
from shared.errors import IntegrationRemoved, NotFound, SyncError
from shared.issue_links.field_map_setup import set_field_map
from shared.issue_links.schema import schema, webhook_url
from shared.maintenance.check import FAILED, REFUSED, check_integration
from shared.store.integrations import Integrations
from shared.store.sentry_orgs import SentryOrgs
from shared.store.storage import Storage
from shared.store.sync_settings import REGRESSION_POLICIES, SYNC_SETTINGS
from shared.validation import RESOLUTION_STRATEGIES, check_base_url


def add_parser(groups: Any) -> None:
    integration = groups.add_parser("integration", help="Azure DevOps organizations")
    actions = integration.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="register an organization; prints its webhook secret")
    add.add_argument("id", help="collection id (GUID) of the organization or collection")
    add.add_argument(
        "--base-url", required=True, help="https://dev.azure.com/{org}/ or a Server collection URL"
    )
    add.add_argument("--pat-setting", required=True, help="name of the app setting holding the PAT")
    add.add_argument("--name", help="a label for people")
    add.add_argument("--resolution", choices=RESOLUTION_STRATEGIES, default="resolved")
    update = actions.add_parser("update", help="change settings ('' clears optional ones)")
    id_argument(update)
    update.add_argument("--name")
    update.add_argument("--base-url")
    update.add_argument("--pat-setting")
    update.add_argument("--resolution", choices=RESOLUTION_STRATEGIES)
    update.add_argument(
        "--search-url", help="work item search base URL (Azure DevOps Server with Search)"
    )
    update.add_argument(
        "--sentry-app-secret-setting",
        help="app setting holding the Sentry integration's client secret (signs search calls)",
    )
    listing = actions.add_parser("list", help="list integrations")
    listing.add_argument("--all", action="store_true", help="include removed ones")
    for name, text in (
        ("show", "show one integration and its Sentry organizations"),
        ("remove", "remove (tombstone) an integration and its links"),
        ("rotate-secret", "generate a new webhook secret; the previous one stays valid"),
        ("finish-rotation", "stop accepting the previous webhook secret"),
    ):
        id_argument(actions.add_parser(name, help=text))
    yes_argument(actions.choices["remove"])
    id_argument(
        actions.add_parser(
            "check",
            help="test what the PAT and each Sentry token can do (reads only); exit 1 if a "
            "check is refused",
        )
    )
    sentry_add = actions.add_parser("sentry-add", help="add a Sentry organization it serves")
    id_argument(sentry_add)
    sentry_add.add_argument("--org", required=True, help="Sentry organization slug")
    sentry_add.add_argument(
        "--base-url", required=True, help="e.g. https://sentry.io/ or https://us.sentry.io/"
    )
    sentry_add.add_argument(
        "--token-setting", required=True, help="name of the app setting holding the Sentry token"
    )
    _sentry_app_arguments(sentry_add)
    sentry_update = actions.add_parser(
        "sentry-update", help="change a Sentry organization's settings ('' clears optional ones)"
    )
    id_argument(sentry_update)
    sentry_update.add_argument("--org", required=True, help="Sentry organization slug")
    sentry_update.add_argument("--base-url")
    sentry_update.add_argument("--token-setting")
    _sentry_app_arguments(sentry_update)
    done = actions.add_parser(
        "done-states",
        help="set which states count as done for a project and type (empty --states clears)",
    )
    id_argument(done)
    done.add_argument("--project", required=True, help="project name or id, or * for any")
    done.add_argument("--type", required=True, help="work item type, or * for any")
    done.add_argument("--states", default="", help="comma-separated state names, e.g. Done,Closed")
    sync = actions.add_parser(
        "sync", help="turn each sync direction on or off (integration show lists them)"
    )
    id_argument(sync)
    for name, default in SYNC_SETTINGS.items():
        sync.add_argument(
            f"--{name}", choices=("on", "off"), help=f"default {'on' if default else 'off'}"
        )
    sync.add_argument(
        "--regression",
        choices=(*REGRESSION_POLICIES, "default"),
        help="what a regression in Sentry does to a done work item: reopen it, comment "
        "(occurred again), new (a new work item, related to the old one), off "
        "(default: reopen with status-to-devops on, else comment)",
    )
    resolve = actions.add_parser(
        "resolve-states",
        help="the states a Sentry resolve / unresolve moves a project's type into "
        "(neither given: back to the rule on state categories)",
    )
    id_argument(resolve)
    resolve.add_argument("--project", required=True, help="project name or id, or * for any")
    resolve.add_argument("--type", required=True, help="work item type, or * for any")
    resolve.add_argument("--resolve", help="state for a resolve in Sentry, e.g. Resolved")
    resolve.add_argument("--unresolve", help="state for an unresolve in Sentry, e.g. Active")
    resolve.add_argument(
        "--regression", choices=REGRESSION_POLICIES, help="regression policy for them"
    )
    field_map = actions.add_parser(
        "field-map",
        help="write a Sentry value into a work item field when a work item is created "
        "(checked against the type; --remove drops it)",
    )
    id_argument(field_map)
    field_map.add_argument("--project", required=True, help="project name, or * for any")
    field_map.add_argument("--type", required=True, help="work item type, or * for any")
    field_map.add_argument(
        "--source",
        required=True,
        help="level, release, environment, culprit, firstSeen, count, userCount, link or "
        "tags.<name>",
    )
    field_map.add_argument(
        "--field", required=True, help="work item field, reference or display name"
    )
    field_map.add_argument(
        "--value",
        action="append",
        default=[],
        help="<Sentry value>=<field value>, repeatable (none: the value as Sentry has it)",
    )
    field_map.add_argument(
        "--live",
        action="store_true",
        help="keep the field up to date (count, userCount, lastSeen): the sweep writes it when "
        "Sentry's value changes, at most once per work item per round",
    )
    field_map.add_argument("--remove", action="store_true", help="remove this field's map")
    sentry_schema = actions.add_parser(
        "sentry-schema",
        help="print the webhook URL and UI schema to paste into the Sentry internal integration",
    )
    id_argument(sentry_schema)
    sentry_schema.add_argument("--org", required=True, help="Sentry organization slug")
    sentry_schema.add_argument(
        "--app-url", required=True, help="the function app's URL, e.g. https://<app>.azurewebsites.net"
    )
    sentry_remove = actions.add_parser("sentry-remove", help="remove a Sentry organization")
    id_argument(sentry_remove)
    sentry_remove.add_argument("--org", required=True, help="Sentry organization slug")


def _sentry_app_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--client-secret-setting",
        help="app setting holding the internal integration's client secret (verifies Sentry)",
    )
    parser.add_argument(
        "--installation", help="the internal integration's installation uuid in this organization"
    )


def _print_secret(integration_id: str, secret: str, out: TextIO, headline: str) -> None:
    out.write(
        f"{headline}\n"
        f"integration: {integration_id}\n"
        f"webhook secret (shown once, store it now): {secret}\n"
        "Give it to the Azure DevOps service hook as the Basic auth password "
        "(or as a Shared-Secret header).\n"
    )


def run(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    integrations = Integrations(storage)
    if args.action == "add":
        integration, secret = integrations.add(
            args.id,
            name=args.name or "",
            base_url=args.base_url,
            pat_setting=args.pat_setting,
            resolution=args.resolution,
        )
        _print_secret(integration.id, secret, out, "Integration registered.")
    elif args.action == "check":
        checks = check_integration(storage, args.id)
        print_json([c.to_public() for c in checks], out)
        bad = [c for c in checks if c.result in (REFUSED, FAILED)]
        if bad:
            raise SyncError(
                f"{len(bad)} check(s) refused or failed: "
                + "; ".join(f"{c.side}: {c.what} (needs {c.scope or 'the setting'})" for c in bad)
            )
    elif args.action == "list":
        print_json([i.to_public() for i in integrations.list_all(include_removed=args.all)], out)
    elif args.action == "show":
        print_json(integrations.get(args.id, with_orgs=True).to_public(), out)
    elif args.action == "remove":
        try:
            shown = integrations.get(args.id)  # refuses an unknown id before asking
            label = f"{shown.id} ({shown.name or 'no name'})"
        except IntegrationRemoved:
            label = f"{args.id} (removed; finishing its cleanup)"
        confirm(args, f"Remove integration {label} and its links")
        integrations.remove(args.id)
        out.write(f"Integration {args.id} removed; its webhook now answers 410.\n")
    elif args.action == "rotate-secret":
        secret = integrations.rotate_secret(args.id)
        _print_secret(
            args.id,
            secret,
            out,
            "Secret rotated. The previous secret stays valid until the next rotation or "
            "'integration finish-rotation'.",
        )
    elif args.action == "finish-rotation":
        integrations.finish_rotation(args.id)
        out.write("Rotation finished; only the current secret is accepted now.\n")
    elif args.action == "sentry-add":
        org = SentryOrgs(storage).add(
            args.id,
            slug=args.org,
            base_url=args.base_url,
            token_setting=args.token_setting,
            client_secret_setting=args.client_secret_setting,
            installation_uuid=args.installation,
        )
        print_json(org.to_public(), out)
    elif args.action == "sentry-update":
        org = SentryOrgs(storage).update(
            args.id,
            args.org,
            base_url=args.base_url,
            token_setting=args.token_setting,
            client_secret_setting=args.client_secret_setting,
            installation_uuid=args.installation,
        )
        print_json(org.to_public(), out)
    elif args.action == "update":
        integration = integrations.update(
            args.id,
            name=args.name,
            base_url=args.base_url,
            pat_setting=args.pat_setting,
            resolution=args.resolution,
            search_url=args.search_url,
            sentry_app_secret_setting=args.sentry_app_secret_setting,
        )
        print_json(integration.to_public(), out)
    elif args.action == "done-states":
        states = [s for s in (args.states or "").split(",") if s.strip()]
        integration = integrations.set_done_states(args.id, args.project, args.type, states)
        print_json([m.to_public() for m in integration.done_states], out)
    elif args.action == "sync":
        changes = {
            name: getattr(args, name.replace("-", "_")) == "on"
            for name in SYNC_SETTINGS
            if getattr(args, name.replace("-", "_")) is not None
        }
        if args.regression is None or changes:
            integration = integrations.set_sync(args.id, changes)
        if args.regression is not None:
            policy = None if args.regression == "default" else args.regression
            integration = integrations.set_regression(args.id, policy)
        print_json(integration.sync.to_public(), out)
    elif args.action == "resolve-states":
        integration = integrations.set_resolve_states(
            args.id, args.project, args.type, args.resolve, args.unresolve, args.regression
        )
        print_json([m.to_public() for m in integration.resolve_states], out)
    elif args.action == "field-map":
        integration = set_field_map(
            storage,
            integrations.get(args.id),
            project=args.project,
            work_item_type=args.type,
            source=args.source,
            field=args.field,
            values=args.value,
            remove=args.remove,
            live=args.live,
        )
        print_json([m.to_public() for m in integration.field_maps], out)
    elif args.action == "sentry-schema":
        integration = integrations.get(args.id, with_orgs=True)
        if integration.sentry_org(args.org) is None:
            raise NotFound(f"integration {integration.id} has no Sentry organization {args.org}")
        app_url = check_base_url(args.app_url, "the app URL")
        print_json(
            {
                "webhookUrl": webhook_url(app_url, integration.id, args.org),
                "schema": schema(integration.id, args.org),
            },
            out,
        )
    elif args.action == "sentry-remove":
        SentryOrgs(storage).remove(args.id, args.org)
        out.write(f"Sentry organization {args.org} removed from integration {args.id}.\n")
