"""Messages that failed ``maxDequeueCount`` times, in ``<queue>-poison``: list and replay.

Replay puts the message back on the sync queue (base64, as the trigger reads it) and only then
deletes it from the poison queue, so a crash in between duplicates rather than loses it; the
per-link watermarks make a duplicate harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.storage import Storage, storage_errors

_PEEK_LIMIT = 32  # the queue service's cap for one peek
_REPLAY_LEASE_SECONDS = 60


@dataclass(frozen=True)
class PoisonMessage:
    id: str
    inserted: str | None
    dequeue_count: int | None
    text: str


class PoisonQueue:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def peek(self) -> list[PoisonMessage]:
        """Up to 32 messages, oldest first (the service lets nobody peek further)."""
        with storage_errors():
            return [
                PoisonMessage(
                    id=m.id,
                    inserted=m.inserted_on.isoformat() if m.inserted_on else None,
                    dequeue_count=m.dequeue_count,
                    text=m.content,
                )
                for m in self._storage.poison_queue.peek_messages(max_messages=_PEEK_LIMIT)
            ]

    def replay(self, message_ids: set[str] | None = None) -> list[str]:
        """Move messages (all, or those with the given ids) back to the sync queue."""
        replayed: list[str] = []
        poison = self._storage.poison_queue
        with storage_errors():
            while True:
                batch = list(
                    poison.receive_messages(
                        max_messages=_PEEK_LIMIT, visibility_timeout=_REPLAY_LEASE_SECONDS
                    )
                )
                if not batch:
                    break
                for message in batch:
                    if message_ids is not None and message.id not in message_ids:
                        poison.update_message(message, visibility_timeout=0)
                        continue
                    self._storage.send(message.content)
                    poison.delete_message(message)
                    replayed.append(message.id)
                if message_ids is not None and message_ids <= set(replayed):
                    break
                if message_ids is not None and all(m.id not in message_ids for m in batch):
                    break
        return replayed
