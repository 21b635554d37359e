"""``audit``: the decisions SyncStatus made, newest first."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from shared.cli.output import print_json
from shared.errors import InvalidInput
from shared.store.audit import UNREADABLE_PARTITION, AuditLog
from shared.store.integrations import Integrations
from shared.store.storage import Storage
from shared.validation import check_work_item_id


def add_parser(groups: Any) -> None:
    audit = groups.add_parser(
        "audit",
        help="what the app decided and did (every function: sync, Sentry events, releases, "
        "links, subscriptions, the timer), newest first",
    )
    audit.add_argument(
        "id", help=f"collection id, or '{UNREADABLE_PARTITION}' for messages naming none"
    )
    audit.add_argument("--work-item", help="only this work item")
    audit.add_argument("--limit", type=int, default=50, help="at most this many rows (50)")


def run(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    if args.id == UNREADABLE_PARTITION:  # poisoned messages that named no valid integration
        print_json(AuditLog(storage).read(UNREADABLE_PARTITION, None, args.limit), out)
        return
    integration = Integrations(storage).get(args.id)
    work_item = check_work_item_id(args.work_item) if args.work_item is not None else None
    if not 1 <= args.limit <= 1000:
        raise InvalidInput("--limit must be between 1 and 1000")
    print_json(AuditLog(storage).read(integration.id, work_item, args.limit), out)
