"""Admin command line over the app's storage (the ``AzureWebJobsStorage`` app setting).

Run it as ``.venv/bin/python -m shared.cli --help`` from the app's folder. Settings come from
the environment, then from ``local.settings.json`` (as ``func`` reads them). Output is JSON
for listings; the only secret ever printed is a newly generated webhook secret, once. Bad
input gives a one-line message on stderr and exit code 1 (2 for a malformed command line).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from shared import settings
from shared.audit import AuditLog
from shared.drift import DriftCheck
from shared.errors import InvalidInput, NotFound, SyncError
from shared.poison import PoisonMessage, PoisonQueue
from shared.reconcile import Reconciler
from shared.registry import RESOLUTION_STRATEGIES, Registry, check_work_item_id
from shared.retention import prune
from shared.storage import Storage, get_storage
from shared.subscriptions import Subscriptions
from shared.sync import UNREADABLE_PARTITION


def _print_json(value: Any, out: TextIO) -> None:
    out.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _print_secret(integration_id: str, secret: str, out: TextIO, headline: str) -> None:
    out.write(
        f"{headline}\n"
        f"integration: {integration_id}\n"
        f"webhook secret (shown once, store it now): {secret}\n"
        "Give it to the Azure DevOps service hook as the Basic auth password "
        "(or as a Shared-Secret header).\n"
    )


def _integration(args: argparse.Namespace, registry: Registry, out: TextIO) -> None:
    if args.action == "add":
        integration, secret = registry.add_integration(
            args.id,
            name=args.name or "",
            base_url=args.base_url,
            pat_setting=args.pat_setting,
            resolution=args.resolution,
        )
        _print_secret(integration.id, secret, out, "Integration registered.")
    elif args.action == "list":
        _print_json(
            [i.to_public() for i in registry.list_integrations(include_removed=args.all)], out
        )
    elif args.action == "show":
        _print_json(registry.get_integration(args.id, with_orgs=True).to_public(), out)
    elif args.action == "remove":
        registry.remove_integration(args.id)
        out.write(f"Integration {args.id} removed; its webhook now answers 410.\n")
    elif args.action == "rotate-secret":
        secret = registry.rotate_secret(args.id)
        _print_secret(
            args.id,
            secret,
            out,
            "Secret rotated. The previous secret stays valid until the next rotation or "
            "'integration finish-rotation'.",
        )
    elif args.action == "finish-rotation":
        registry.finish_rotation(args.id)
        out.write("Rotation finished; only the current secret is accepted now.\n")
    elif args.action == "sentry-add":
        org = registry.add_sentry_org(
            args.id, slug=args.org, base_url=args.base_url, token_setting=args.token_setting
        )
        _print_json(org.to_public(), out)
    elif args.action == "update":
        integration = registry.update_integration(
            args.id,
            name=args.name,
            base_url=args.base_url,
            pat_setting=args.pat_setting,
            resolution=args.resolution,
            search_url=args.search_url,
            sentry_app_secret_setting=args.sentry_app_secret_setting,
        )
        _print_json(integration.to_public(), out)
    elif args.action == "done-states":
        states = [s for s in (args.states or "").split(",") if s.strip()]
        integration = registry.set_done_states(args.id, args.project, args.type, states)
        _print_json([m.to_public() for m in integration.done_states], out)
    elif args.action == "sentry-remove":
        registry.remove_sentry_org(args.id, args.org)
        out.write(f"Sentry organization {args.org} removed from integration {args.id}.\n")


def _link(args: argparse.Namespace, registry: Registry, out: TextIO) -> None:
    if args.action == "add":
        link = registry.add_link(args.id, args.work_item, args.org, args.issue)
        _print_json(link.to_public(), out)
    elif args.action == "remove":
        registry.remove_link(args.id, args.work_item, args.org, args.issue)
        out.write(f"Link removed: work item {args.work_item} - {args.org} issue {args.issue}.\n")
    elif args.action == "list":
        if args.work_item is not None:
            integration = registry.get_integration(args.id)
            links = registry.links_for_work_item(integration.id, check_work_item_id(args.work_item))
        elif args.issue is not None:
            if args.org is None:
                raise argparse.ArgumentTypeError("--issue needs --org")
            integration = registry.get_integration(args.id)
            links = registry.links_for_issue(integration.id, args.org, args.issue)
        else:
            links = registry.list_links(args.id)
        _print_json([link.to_public() for link in links], out)


def _poison(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    queue = PoisonQueue(storage)
    if args.action == "list":
        _print_json([_poison_entry(m) for m in queue.peek()], out)
        return
    if args.action == "replay":
        outcome = queue.replay(set(args.message_id) if args.message_id else None)
        out.write(f"Replayed {len(outcome.done)} message(s) onto {storage.settings.sync_queue}.\n")
        if outcome.unreadable:
            out.write(
                f"Left {len(outcome.unreadable)} unreadable message(s) in the poison queue "
                f"({', '.join(outcome.unreadable)}); 'poison drop --message-id ID' deletes one.\n"
            )
    else:
        outcome = queue.drop(set(args.message_id))
        out.write(f"Dropped {len(outcome.done)} message(s).\n")
    if outcome.missing:
        raise NotFound(f"no poison message with id {', '.join(outcome.missing)}")


def _poison_entry(message: PoisonMessage) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": message.id, "inserted": message.inserted}
    if message.text is None:
        entry["unreadable"] = f"not base64 text ({message.size} characters); replay skips it"
    else:
        entry["message"] = _summary(message.text)
    return entry


def _summary(text: str) -> Any:
    """A poison message as JSON when it is one (it holds ids and states, never secrets)."""
    try:
        return json.loads(text)
    except ValueError:
        return text[:500]


def _subscription(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    subscriptions = Subscriptions(storage)
    if args.action == "create":
        if args.url is not None:
            Registry(storage).set_hook(args.id, args.url, args.key_setting)
        created = subscriptions.create(args.id, args.project)
        out.write(
            f"Created subscription {created.id}; the webhook secret was rotated and rolled out "
            "to every subscription of the integration.\n"
        )
    elif args.action == "list":
        _print_json([s.to_public() for s in subscriptions.statuses(args.id)], out)
    elif args.id:
        _print_json({args.id: subscriptions.check(args.id)}, out)
    else:
        _print_json(subscriptions.check_all(), out)


def _reconcile(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    missed = Reconciler(storage).reconcile(args.id, dry_run=args.dry_run)
    drift = DriftCheck(storage).run(args.id, dry_run=args.dry_run)
    verb = "would queue" if args.dry_run else "queued"
    result: dict[str, Any] = {
        verb: [
            {
                "workItemId": m.work_item_id,
                "rev": m.rev,
                "state": m.state.model_dump() if m.state else None,
                "assignee": (m.assignee.new.email if m.assignee.new else None)
                if m.assignee
                else None,
            }
            for m in missed
        ],
        "would correct" if args.dry_run else "corrections queued": [
            d.to_public() for d in drift.differences
        ],
    }
    if drift.errors:
        result["errors"] = drift.errors
    _print_json(result, out)


def _prune(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    registry = Registry(storage)
    ids = [registry.get_integration(args.id).id] if args.id else [
        i.id for i in registry.list_integrations()
    ]
    _print_json({integration_id: prune(storage, integration_id) for integration_id in ids}, out)


def _audit(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    if args.id == UNREADABLE_PARTITION:  # poisoned messages that named no valid integration
        _print_json(AuditLog(storage).read(UNREADABLE_PARTITION, None, args.limit), out)
        return
    integration = Registry(storage).get_integration(args.id)
    work_item = check_work_item_id(args.work_item) if args.work_item is not None else None
    if not 1 <= args.limit <= 1000:
        raise InvalidInput("--limit must be between 1 and 1000")
    _print_json(AuditLog(storage).read(integration.id, work_item, args.limit), out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m shared.cli",
        description="Administer the Azure DevOps / Sentry sync app (uses AzureWebJobsStorage).",
    )
    groups = parser.add_subparsers(dest="group", required=True)

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
    update.add_argument("id", help="collection id")
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
        actions.add_parser(name, help=text).add_argument("id", help="collection id")
    sentry_add = actions.add_parser("sentry-add", help="add a Sentry organization it serves")
    sentry_add.add_argument("id", help="collection id")
    sentry_add.add_argument("--org", required=True, help="Sentry organization slug")
    sentry_add.add_argument(
        "--base-url", required=True, help="e.g. https://sentry.io/ or https://us.sentry.io/"
    )
    sentry_add.add_argument(
        "--token-setting", required=True, help="name of the app setting holding the Sentry token"
    )
    done = actions.add_parser(
        "done-states",
        help="set which states count as done for a project and type (empty --states clears)",
    )
    done.add_argument("id", help="collection id")
    done.add_argument("--project", required=True, help="project name or id, or * for any")
    done.add_argument("--type", required=True, help="work item type, or * for any")
    done.add_argument("--states", default="", help="comma-separated state names, e.g. Done,Closed")
    sentry_remove = actions.add_parser("sentry-remove", help="remove a Sentry organization")
    sentry_remove.add_argument("id", help="collection id")
    sentry_remove.add_argument("--org", required=True, help="Sentry organization slug")

    link = groups.add_parser("link", help="links between work items and Sentry issues")
    link_actions = link.add_subparsers(dest="action", required=True)
    for name, text in (("add", "link a work item to a Sentry issue"), ("remove", "remove a link")):
        sub = link_actions.add_parser(name, help=text)
        sub.add_argument("id", help="collection id")
        sub.add_argument("--work-item", required=True, help="work item id")
        sub.add_argument("--org", required=True, help="Sentry organization slug")
        sub.add_argument("--issue", required=True, help="Sentry issue id")
    link_list = link_actions.add_parser("list", help="list links, all or from one side")
    link_list.add_argument("id", help="collection id")
    link_list.add_argument("--work-item", help="only this work item's issues")
    link_list.add_argument("--org", help="Sentry organization slug (with --issue)")
    link_list.add_argument("--issue", help="only this Sentry issue's work items")

    poison = groups.add_parser("poison", help="messages SyncStatus gave up on")
    poison_actions = poison.add_subparsers(dest="action", required=True)
    poison_actions.add_parser("list", help="show up to 32 poison messages")
    replay = poison_actions.add_parser(
        "replay", help="put readable poison messages back on the queue"
    )
    replay.add_argument("--message-id", action="append", help="only this message (repeatable)")
    drop = poison_actions.add_parser("drop", help="delete poison messages for good")
    drop.add_argument(
        "--message-id", action="append", required=True, help="this message (repeatable)"
    )

    subscription = groups.add_parser("subscription", help="Azure DevOps service hooks")
    sub_actions = subscription.add_subparsers(dest="action", required=True)
    create = sub_actions.add_parser(
        "create", help="create the workitem.updated subscription (rotates the secret)"
    )
    create.add_argument("id", help="collection id")
    create.add_argument("--url", help="WorkItemWebhook URL, https://, without ?code= (stored)")
    create.add_argument("--key-setting", help="app setting holding the function key")
    create.add_argument("--project", help="limit to one project (its id)")
    sub_list = sub_actions.add_parser("list", help="each subscription's status in Azure DevOps")
    sub_list.add_argument("id", help="collection id")
    check = sub_actions.add_parser("check", help="repair broken subscriptions, then reconcile")
    check.add_argument("id", nargs="?", help="collection id (default: every integration)")

    reconcile = groups.add_parser(
        "reconcile",
        help="queue changes whose service hooks were lost, and corrections where Sentry "
        "differs from the links' memory",
    )
    reconcile.add_argument("id", help="collection id")
    reconcile.add_argument("--dry-run", action="store_true", help="print, write nothing")
    prune_parser = groups.add_parser(
        "prune", help="delete delivery markers older than 7 days and audit rows older than 90"
    )
    prune_parser.add_argument("id", nargs="?", help="collection id (default: every integration)")

    audit = groups.add_parser("audit", help="the decisions SyncStatus made, newest first")
    audit.add_argument(
        "id", help=f"collection id, or '{UNREADABLE_PARTITION}' for messages naming none"
    )
    audit.add_argument("--work-item", help="only this work item")
    audit.add_argument("--limit", type=int, default=50, help="at most this many rows (50)")
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        # As func does: local.settings.json's Values, where the environment has none.
        settings.apply_local_settings(settings.LOCAL_SETTINGS)
        storage = get_storage()
        if args.group == "integration":
            _integration(args, Registry(storage), out)
        elif args.group == "link":
            _link(args, Registry(storage), out)
        elif args.group == "poison":
            _poison(args, storage, out)
        elif args.group == "subscription":
            _subscription(args, storage, out)
        elif args.group == "reconcile":
            _reconcile(args, storage, out)
        elif args.group == "prune":
            _prune(args, storage, out)
        else:
            _audit(args, storage, out)
    except (SyncError, argparse.ArgumentTypeError) as exc:
        err.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
