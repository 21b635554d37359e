"""The one writer of failure notice claims: ``x:<work item>:<slug>:<issue>:<kind>`` rows in
``links`` (partition = integration id). A notice is claimed before it is posted, so each link
gets one per kind of failure however many runs meet it; a post that failed gives the claim
back, so the next occurrence tries again."""

from __future__ import annotations

from datetime import UTC, datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError

from shared.store.keys import notice_row
from shared.store.records import Link
from shared.store.storage import LINKS, Storage, storage_errors


class Notices:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def claim(self, integration_id: str, link: Link, kind: str) -> bool:
        """True: this run posts the notice; False: one was posted (or is being posted)."""
        row = {
            "PartitionKey": integration_id,
            "RowKey": notice_row(link.work_item_id, link.sentry_org, link.issue_id, kind),
            "At": datetime.now(UTC),
        }
        with storage_errors():
            try:
                self._storage.table(LINKS).create_entity(row)
            except ResourceExistsError:
                return False
        return True

    def release(self, integration_id: str, link: Link, kind: str) -> None:
        with storage_errors():
            try:
                self._storage.table(LINKS).delete_entity(
                    integration_id,
                    notice_row(link.work_item_id, link.sentry_org, link.issue_id, kind),
                )
            except ResourceNotFoundError:
                pass
