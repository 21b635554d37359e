"""Starting a round of the sweep (the timer's part): its first chunk message, unless a round is
under way. Kept apart from ``run`` so that the timer does not load the sweep itself."""

from __future__ import annotations

from shared.messages.sentry_event import SentryEventMessage, SweepChunk
from shared.store.storage import Storage
from shared.store.sweeps import Sweeps

SWEEP = "sweep"  # the resource (and org) of a chunk message; SentryEvents routes on it


def queue_chunk(
    storage: Storage, integration_id: str, chunk: SweepChunk, delay: int | None = None
) -> None:
    message = SentryEventMessage(
        integration_id=integration_id,
        org=SWEEP,
        resource=SWEEP,
        action="chunk",
        installation_uuid=SWEEP,
        sweep=chunk,
    )
    storage.send_sentry_event(message.encode(), delay=delay)


def start_round(storage: Storage, integration_id: str) -> bool:
    """Begin a round (one chunk message), unless one is under way."""
    started = Sweeps(storage).start(integration_id)
    if started is None:
        return False
    queue_chunk(storage, integration_id, SweepChunk(round=started.id))
    return True
