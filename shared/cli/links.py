"""``link``: links between work items and Sentry issues."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from shared.cli.output import id_argument, print_json
from shared.errors import SyncError
from shared.http import ApiError
from shared.issue_links import external
from shared.issue_links.manual import add_link
from shared.store.integrations import Integrations
from shared.store.links import Links
from shared.store.storage import Storage
from shared.validation import check_work_item_id


def add_parser(groups: Any) -> None:
    link = groups.add_parser("link", help="links between work items and Sentry issues")
    actions = link.add_subparsers(dest="action", required=True)
    for name, text in (("add", "link a work item to a Sentry issue"), ("remove", "remove a link")):
        sub = actions.add_parser(name, help=text)
        id_argument(sub)
        sub.add_argument("--work-item", required=True, help="work item id")
        sub.add_argument("--org", required=True, help="Sentry organization slug")
        sub.add_argument("--issue", required=True, help="Sentry issue id")
    listing = actions.add_parser("list", help="list links, all or from one side")
    id_argument(listing)
    listing.add_argument("--work-item", help="only this work item's issues")
    listing.add_argument("--org", help="Sentry organization slug (with --issue)")
    listing.add_argument("--issue", help="only this Sentry issue's work items")


def run(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    links = Links(storage)
    if args.action == "add":
        integration = Integrations(storage).get(args.id, with_orgs=True)
        print_json(add_link(storage, integration, args.work_item, args.org, args.issue), out)
    elif args.action == "remove":
        integration = Integrations(storage).get(args.id, with_orgs=True)
        work_item = check_work_item_id(args.work_item)
        shown = links.issue_side(integration.id, work_item, args.org, args.issue)
        if shown is not None:
            try:
                external.unregister(storage, integration, shown)
            except ApiError as exc:
                raise SyncError(
                    f"removing the link from the Sentry issue failed ({exc}); the link is kept, "
                    "run the command again"
                ) from None
        links.remove(args.id, args.work_item, args.org, args.issue)
        out.write(f"Link removed: work item {args.work_item} - {args.org} issue {args.issue}.\n")
    elif args.action == "list":
        if args.work_item is not None:
            integration = Integrations(storage).get(args.id)
            found = links.for_work_item(integration.id, check_work_item_id(args.work_item))
        elif args.issue is not None:
            if args.org is None:
                raise argparse.ArgumentTypeError("--issue needs --org")
            integration = Integrations(storage).get(args.id)
            found = links.for_issue(integration.id, args.org, args.issue)
        else:
            found = links.list_all(args.id)
        print_json([link.to_public() for link in found], out)
