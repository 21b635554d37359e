"""``reconcile`` and ``prune``: what the timer does, on demand."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from shared.cli.output import confirm, id_argument, print_json, yes_argument
from shared.devops_intake.reconcile import Reconciler
from shared.maintenance.retention import prune
from shared.messages.sync import SyncMessage
from shared.store.integrations import Integrations
from shared.store.storage import Storage
from shared.sweep.run import Sweep


def add_parsers(groups: Any) -> None:
    reconcile = groups.add_parser(
        "reconcile",
        help="queue changes whose service hooks were lost (Azure DevOps), and sweep every "
        "link: carry what changed in Sentry without its webhook, settle unfinished writes",
    )
    id_argument(reconcile)
    reconcile.add_argument("--dry-run", action="store_true", help="print, write nothing")
    prune_parser = groups.add_parser(
        "prune", help="delete delivery markers older than 7 days and audit rows older than 90"
    )
    id_argument(prune_parser, optional=True)
    yes_argument(prune_parser)


def reconcile(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    missed = Reconciler(storage).reconcile(args.id, dry_run=args.dry_run)
    drift = Sweep(storage).run_all(args.id, dry_run=args.dry_run)
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
                "why": _why(m),
            }
            for m in missed
        ],
        "would correct" if args.dry_run else "corrections queued": [
            d.to_public() for d in drift.differences
        ],
    }
    result["swept"] = {"links": drift.checked, "sentryReads": drift.sentry_reads}
    if drift.errors:
        result["errors"] = drift.errors
    print_json(result, out)


def _why(message: SyncMessage) -> str:
    changed = []
    if message.state is not None:
        changed.append(f"moved the state from {message.state.old} to {message.state.new}")
    if message.assignee is not None:
        changed.append("changed the assignee")
    return (
        f"revision {message.rev} {' and '.join(changed)}, is newer than what the app knows of "
        "the work item, and no delivery of it arrived"
    )


def prune_rows(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    integrations = Integrations(storage)
    ids = [integrations.get(args.id).id] if args.id else [i.id for i in integrations.list_all()]
    confirm(args, f"Delete old delivery markers and audit rows of {len(ids)} integration(s)")
    print_json({integration_id: prune(storage, integration_id) for integration_id in ids}, out)
