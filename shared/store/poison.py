"""Messages that failed ``maxDequeueCount`` times, in ``<queue>-poison``: list, replay, drop.

The poison queue is read raw and each message decoded here, so a message that is not base64
text (the host parks undecodable sync messages there as they came) is listed as unreadable
instead of breaking the listing. Replay puts readable messages back on the sync queue and only
then deletes them from the poison queue, so a crash in between duplicates rather than loses
one; the per-link memory makes a duplicate harmless. Unreadable messages are never replayed:
they stay until someone drops them by id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from azure.storage.queue import QueueClient, QueueMessage

from shared.errors import GiveUp, Unreadable
from shared.store.audit import (
    KIND_DEVOPS,
    KIND_RELEASE,
    KIND_SENTRY,
    POISONED,
    UNREADABLE_PARTITION,
    AuditEntry,
    AuditLog,
)
from shared.store.storage import (
    POISON,
    RELEASES,
    SENTRY,
    SYNC,
    Storage,
    decode_queued,
    storage_errors,
)

_PEEK_LIMIT = 32  # the queue service's cap for one peek or receive
_REPLAY_LEASE_SECONDS = 60


@dataclass(frozen=True)
class PoisonMessage:
    id: str
    inserted: str | None
    dequeue_count: int | None
    text: str | None  # None: not base64 of UTF-8 text
    size: int


@dataclass(frozen=True)
class Outcome:
    done: list[str]  # replayed or dropped
    unreadable: list[str]  # left in the poison queue: not base64 text
    missing: list[str]  # asked for by id, not in the poison queue


QUEUES = (SYNC, SENTRY, RELEASES)  # the queues whose poison queues this handles


class PoisonQueue:
    def __init__(self, storage: Storage, queue: str = SYNC) -> None:
        if queue not in QUEUES:
            raise ValueError(f"no poison queue for {queue!r}")
        self._storage = storage
        self._kind = queue

    @property
    def _poison(self) -> QueueClient:
        return self._storage.queue_client(self._kind + POISON)

    def _send_back(self, text: str) -> None:
        self._storage.send(text, self._kind)

    def depth(self) -> int:
        """About how many messages wait in the poison queue (the service's estimate)."""
        with storage_errors():
            return self._poison.get_queue_properties().approximate_message_count or 0

    def peek(self) -> list[PoisonMessage]:
        """Up to 32 messages, oldest first (the service lets nobody peek further)."""
        with storage_errors():
            return [
                PoisonMessage(
                    id=m.id,
                    inserted=m.inserted_on.isoformat() if m.inserted_on else None,
                    dequeue_count=m.dequeue_count,
                    text=decode_queued(m.content),
                    size=len(m.content or ""),
                )
                for m in self._poison.peek_messages(max_messages=_PEEK_LIMIT)
            ]

    def replay(self, message_ids: set[str] | None = None) -> Outcome:
        """Move readable messages (all, or those with the given ids) back to their queue."""

        def act(message: QueueMessage, text: str | None, outcome: Outcome) -> bool:
            if text is None:
                outcome.unreadable.append(message.id)
                return False
            self._send_back(text)
            return True

        return self._each(message_ids, act)

    def drop(self, message_ids: set[str] | None) -> Outcome:
        """Delete the given messages (None: all) for good (unreadable ones, once someone
        looked at them)."""
        return self._each(message_ids, lambda message, text, outcome: True)

    def _each(
        self,
        message_ids: set[str] | None,
        act: Callable[[QueueMessage, str | None, Outcome], bool],
    ) -> Outcome:
        """Receive every message once; delete those ``act`` returns True for; make the rest
        visible again at the end (so the loop never receives one twice)."""
        outcome = Outcome([], [], [])
        kept: list[QueueMessage] = []
        seen: set[str] = set()
        poison = self._poison
        with storage_errors():
            try:
                while message_ids is None or not message_ids <= seen:
                    batch = list(
                        poison.receive_messages(
                            max_messages=_PEEK_LIMIT, visibility_timeout=_REPLAY_LEASE_SECONDS
                        )
                    )
                    if not batch:
                        break
                    for message in batch:
                        seen.add(message.id)
                        chosen = message_ids is None or message.id in message_ids
                        if chosen and act(message, decode_queued(message.content), outcome):
                            poison.delete_message(message)
                            outcome.done.append(message.id)
                        else:
                            kept.append(message)
            finally:
                for message in kept:
                    poison.update_message(message, visibility_timeout=0)
        outcome.missing.extend(sorted((message_ids or set()) - seen))
        return outcome


def park(
    storage: Storage,
    kind: str,
    text: str,
    *,
    what: str,
    exc: Exception,
    attempts: int,
    partition: str | None,
    sentry_org: str | None = None,
) -> str:
    """Park a queue message as it came, with an audit row saying why; returns the reason.

    ``what`` names the message in the reason; ``partition`` is the integration it names
    (None: the ``unreadable`` partition)."""

    storage.send_poison(text, kind)
    if isinstance(exc, Unreadable):
        reason = f"unreadable {what}: {exc}"
    elif isinstance(exc, GiveUp):  # no attempt can succeed
        reason = str(exc)
    else:
        reason = f"gave up after {attempts} attempts: {exc}"
    AuditLog(storage).record(
        partition or UNREADABLE_PARTITION,
        AuditEntry(
            work_item_id=0,
            rev=0,
            outcome=POISONED,
            action="none",
            reason=reason,
            sentry_org=sentry_org,
            error=type(exc).__name__,
            kind={SENTRY: KIND_SENTRY, RELEASES: KIND_RELEASE}.get(kind, KIND_DEVOPS),
        ),
    )
    return reason

