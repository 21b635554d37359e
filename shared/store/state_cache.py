"""The one writer of the ``statecache`` table: the done and removed states of a work item type
in a project, as read from Azure DevOps, shared by every instance for ``max_age``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceNotFoundError

from shared.store.keys import state_row
from shared.store.storage import STATE_CACHE, Storage, storage_errors

States = tuple[frozenset[str], frozenset[str]]  # (done, removed), case-folded


class StateCache:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def read(
        self, integration_id: str, project: str, work_item_type: str, max_age: timedelta
    ) -> States | None:
        """The cached states, or None if there are none younger than ``max_age``."""
        with storage_errors():
            try:
                row = self._storage.table(STATE_CACHE).get_entity(
                    integration_id, state_row(project, work_item_type)
                )
            except ResourceNotFoundError:
                return None
        fetched_at = row.get("FetchedAt")
        if not isinstance(fetched_at, datetime) or datetime.now(UTC) - fetched_at > max_age:
            return None
        return frozenset(json.loads(row["Done"])), frozenset(json.loads(row["Removed"]))

    def write(self, integration_id: str, project: str, work_item_type: str, states: States) -> None:
        done, removed = states
        with storage_errors():
            self._storage.table(STATE_CACHE).upsert_entity(
                {
                    "PartitionKey": integration_id,
                    "RowKey": state_row(project, work_item_type),
                    "Done": json.dumps(sorted(done)),
                    "Removed": json.dumps(sorted(removed)),
                    "FetchedAt": datetime.now(UTC),
                }
            )
