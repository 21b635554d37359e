"""``subscription``: the Azure DevOps service hooks that feed WorkItemWebhook."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from shared.cli.output import id_argument, print_json
from shared.devops_intake.subscriptions import EVENT_TYPES, Subscriptions
from shared.errors import InvalidInput
from shared.store.integrations import Integrations
from shared.store.storage import Storage


def add_parser(groups: Any) -> None:
    subscription = groups.add_parser("subscription", help="Azure DevOps service hooks")
    actions = subscription.add_subparsers(dest="action", required=True)
    create = actions.add_parser(
        "create", help="create a work item subscription (rotates the secret)"
    )
    id_argument(create)
    create.add_argument(
        "--url",
        help="WorkItemWebhook URL without ?code= (stored; https://, or http:// on a private "
        "network such as http://127.0.0.1:7071/api/workitems/webhook)",
    )
    key = create.add_mutually_exclusive_group()
    key.add_argument(
        "--key-setting",
        help="app setting holding WorkItemWebhook's function key (required with --url: the "
        "function is authLevel function, and a URL without its key gets 401)",
    )
    key.add_argument(
        "--anonymous",
        action="store_true",
        help="the function takes no key (you made it anonymous; devhost checks none)",
    )
    create.add_argument("--project", help="limit to one project (its id)")
    create.add_argument(
        "--event",
        choices=EVENT_TYPES,
        default=EVENT_TYPES[0],
        help="workitem.updated (status and assignee), workitem.commented (comments), git.push "
        "and the deployment events (releases)",
    )
    id_argument(actions.add_parser("list", help="each subscription's status in Azure DevOps"))
    check = actions.add_parser("check", help="repair broken subscriptions, then reconcile")
    id_argument(check, optional=True)


def run(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    subscriptions = Subscriptions(storage)
    if args.action == "create":
        if args.url is not None:
            Integrations(storage).set_hook(
                args.id, args.url, args.key_setting, anonymous=args.anonymous
            )
        elif args.key_setting or args.anonymous:
            raise InvalidInput("--key-setting and --anonymous go with --url")
        created, secret = subscriptions.create(args.id, args.project, args.event)
        out.write(
            f"Created {created.event_type} subscription {created.id}.\n"
            f"New webhook secret (shown once, store it now): {secret}\n"
            "It is rolled out to every subscription of the integration; the previous secret "
            "stays valid until the next rotation or 'integration finish-rotation'.\n"
        )
    elif args.action == "list":
        print_json([s.to_public() for s in subscriptions.statuses(args.id)], out)
    elif args.id:
        print_json({args.id: subscriptions.check(args.id)}, out)
    else:
        print_json(subscriptions.check_all(), out)
