"""``poison``: messages SyncStatus gave up on: list, replay, drop."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from shared.cli.output import confirm, print_json, yes_argument
from shared.errors import NotFound
from shared.store.poison import QUEUES, PoisonMessage, PoisonQueue
from shared.store.storage import Storage


def add_parser(groups: Any) -> None:
    poison = groups.add_parser(
        "poison", help="messages SyncStatus, SentryEvents or ReleaseSync gave up on"
    )
    actions = poison.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="show up to 32 poison messages")
    replay = actions.add_parser("replay", help="put readable poison messages back on the queue")
    replay.add_argument("--message-id", action="append", help="only this message (repeatable)")
    drop = actions.add_parser("drop", help="delete poison messages for good")
    drop.add_argument(
        "--message-id", action="append", required=True, help="this message (repeatable)"
    )
    yes_argument(replay)
    yes_argument(drop)
    for parser in (listing, replay, drop):
        parser.add_argument(
            "--queue",
            choices=QUEUES,
            default="sync",
            help="sync (SyncStatus, the default), sentry (SentryEvents) or releases (ReleaseSync)",
        )


def run(args: argparse.Namespace, storage: Storage, out: TextIO) -> None:
    queue = PoisonQueue(storage, args.queue)
    if args.action == "list":
        print_json([_entry(m) for m in queue.peek()], out)
        return
    if args.action == "replay":
        if not args.message_id:
            confirm(args, f"Replay every message in the {args.queue} poison queue")
        outcome = queue.replay(set(args.message_id) if args.message_id else None)
        names = {
            "sentry": storage.settings.sentry_queue,
            "sync": storage.settings.sync_queue,
            "releases": storage.settings.release_queue,
        }
        target = names[args.queue]
        out.write(f"Replayed {len(outcome.done)} message(s) onto {target}.\n")
        if outcome.unreadable:
            out.write(
                f"Left {len(outcome.unreadable)} unreadable message(s) in the poison queue "
                f"({', '.join(outcome.unreadable)}); 'poison drop --message-id ID' deletes one.\n"
            )
    else:
        confirm(args, f"Delete {len(set(args.message_id))} poison message(s) for good")
        outcome = queue.drop(set(args.message_id))
        if outcome.done:
            out.write(f"Dropped {len(outcome.done)} message(s).\n")
    if outcome.missing:
        raise NotFound(f"no poison message with id {', '.join(outcome.missing)}")


def _entry(message: PoisonMessage) -> dict[str, Any]:
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
