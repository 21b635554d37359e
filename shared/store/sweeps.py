"""The one writer of the ``sweep`` row (``integrations`` table, the integration's partition):
the round of the sweep under way and how far it got.

A round is a chain of chunk messages on the Sentry queue, each carrying the round and the
cursor it starts at. The row says which chunk is next; a chunk that does not match it (a
duplicate delivery of a queue message, or a round that was replaced) does nothing, so a chain
never forks. A round that stopped making progress for ``STALE_SECONDS`` (its message was
parked) is replaced by the next timer round."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode

from shared.store.keys import SWEEP_ROW
from shared.store.storage import INTEGRATIONS, Storage, storage_errors

DONE = "-"  # the cursor of a finished round
STALE_SECONDS = 3600


@dataclass(frozen=True)
class Round:
    id: str
    after: str  # the cursor of the next chunk ("" the start, DONE when finished)
    updated_at: datetime
    etag: str | None = None


class Sweeps:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(INTEGRATIONS)

    def current(self, integration_id: str) -> Round | None:
        with storage_errors():
            try:
                row = self._table.get_entity(integration_id, SWEEP_ROW)
            except ResourceNotFoundError:
                return None
        return Round(
            row["Round"],
            row.get("After") or "",
            row.get("UpdatedAt") or datetime.fromtimestamp(0, UTC),
            row.metadata.get("etag"),
        )

    def start(self, integration_id: str, now: datetime | None = None) -> Round | None:
        """A new round, or None while one is under way (and not stale)."""
        now = now or datetime.now(UTC)
        known = self.current(integration_id)
        if (
            known is not None
            and known.after != DONE
            and now - known.updated_at < timedelta(seconds=STALE_SECONDS)
        ):
            return None
        fresh = Round(uuid.uuid4().hex[:16], "", now)
        entity = {
            "PartitionKey": integration_id,
            "RowKey": SWEEP_ROW,
            "Round": fresh.id,
            "After": "",
            "UpdatedAt": now,
        }
        with storage_errors():
            try:
                if known is None:
                    self._table.create_entity(entity)
                else:
                    self._table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=known.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                return None  # another timer run started one at the same time
        return fresh

    def advance(self, integration_id: str, round_id: str, after: str, next_after: str) -> bool:
        """Move the round from ``after`` to ``next_after``; False if it is not there (this
        chunk is a duplicate, or the round was replaced): then nothing more is queued."""
        known = self.current(integration_id)
        if known is None or known.id != round_id or known.after != after:
            return False
        with storage_errors():
            try:
                self._table.update_entity(
                    {
                        "PartitionKey": integration_id,
                        "RowKey": SWEEP_ROW,
                        "Round": round_id,
                        "After": next_after,
                        "UpdatedAt": datetime.now(UTC),
                    },
                    mode=UpdateMode.REPLACE,
                    etag=known.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
        return True
