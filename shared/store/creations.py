"""The one writer of create intents (``c:<slug>:<issue>:<digest>`` rows in ``links``): a work
item create asked for from Sentry's issue-link form, recorded *before* Azure DevOps is called,
so the same form sent again (a retry, a double click) never creates a second work item:

* ``begin`` writes the intent, or returns the one already there;
* ``done`` records the work item that was created (the link is made right after);
* ``ended`` notes that an attempt failed without knowing whether Azure DevOps created it (a
  timeout, a 5xx), so the next attempt looks for it and, not finding it, creates at once;
* ``abandon`` deletes an intent whose create surely failed, so that a retry may create.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.store.keys import creation_row
from shared.store.storage import LINKS, Storage, storage_errors


@dataclass(frozen=True)
class Creation:
    row_key: str
    created_at: datetime
    work_item_id: int | None = None
    project: str | None = None
    ended: bool = False  # an attempt ended without an answer: none is under way now


class Creations:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(LINKS)

    def begin(
        self, integration_id: str, slug: str, issue_id: str, digest: str
    ) -> tuple[Creation, bool]:
        """The intent, and whether this call wrote it (False: one was there already)."""
        key = creation_row(slug, issue_id, digest)
        now = datetime.now(UTC)
        with storage_errors():
            try:
                self._table.create_entity(
                    {"PartitionKey": integration_id, "RowKey": key, "StartedAt": now}
                )
                return Creation(key, now), True
            except ResourceExistsError:
                row = self._table.get_entity(integration_id, key)
        return (
            Creation(
                key,
                row.get("StartedAt") or now,
                int(row["WorkItemId"]) if row.get("WorkItemId") else None,
                row.get("Project") or None,
                bool(row.get("EndedAt")),
            ),
            False,
        )

    def done(
        self, integration_id: str, creation: Creation, work_item_id: int, project: str
    ) -> None:
        with storage_errors():
            self._table.upsert_entity(
                {
                    "PartitionKey": integration_id,
                    "RowKey": creation.row_key,
                    "StartedAt": creation.created_at,
                    "WorkItemId": work_item_id,
                    "Project": project,
                },
                mode=UpdateMode.REPLACE,
            )

    def ended(self, integration_id: str, creation: Creation) -> None:
        with storage_errors():
            self._table.update_entity(
                {
                    "PartitionKey": integration_id,
                    "RowKey": creation.row_key,
                    "EndedAt": datetime.now(UTC),
                },
                mode=UpdateMode.MERGE,
            )

    def abandon(self, integration_id: str, creation: Creation) -> None:
        with storage_errors():
            try:
                self._table.delete_entity(integration_id, creation.row_key)
            except ResourceNotFoundError:
                pass  # already gone: nothing to undo
