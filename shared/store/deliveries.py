"""What reached us from Azure DevOps, under each work item's prefix in the ``links`` table, so
the webhook reads it with the same query that finds the work item's links. The one writer of:

* delivery markers, ``w:<work item>:~r:<rev>``: one per queued change. They catch both kinds
  of duplicate: a redelivered notification (same ``subscriptionId`` and ``notificationId``)
  carries the same work item and revision, and so does the same change delivered by a second
  subscription. Written only after the message is on the queue: if storage fails in between,
  a retry queues the change again, and SyncStatus's link memory makes that harmless. The
  opposite order could lose a change.
* the reconcile watermark, ``w:<work item>:~seen``: the revision reconciled through.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from azure.data.tables import TableClient, UpdateMode

from shared.store.keys import (
    WORK_ITEM_ROWS,
    delivery_row,
    is_delivery_row,
    seen_row,
    work_item_of,
)
from shared.store.storage import LINKS, Storage, delete_rows, storage_errors

_RANGE = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"


class Deliveries:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(LINKS)

    def record(
        self,
        integration_id: str,
        work_item_id: int,
        rev: int,
        *,
        subscription_id: str | None = None,
        notification_id: int | None = None,
        comment: bool = False,
    ) -> None:
        """Remember that the change to revision ``rev`` (or its comment) is queued."""
        row = {
            "PartitionKey": integration_id,
            "RowKey": delivery_row(work_item_id, rev, comment),
            "Rev": rev,
        }
        if subscription_id:
            row["SubscriptionId"] = subscription_id
        if notification_id is not None:
            row["NotificationId"] = notification_id
        with storage_errors():
            self._table.upsert_entity(row, mode=UpdateMode.REPLACE)

    def mark_seen(self, integration_id: str, work_item_id: int, rev: int) -> None:
        """Reconcile read the work item's changes through ``rev``."""
        with storage_errors():
            self._table.upsert_entity(
                {"PartitionKey": integration_id, "RowKey": seen_row(work_item_id), "Rev": rev},
                mode=UpdateMode.REPLACE,
            )

    def known_revisions(self, integration_id: str) -> dict[int, int]:
        """For each linked work item, the newest revision we know of: its links' memory, the
        revisions queued, the reconcile watermark."""
        known: dict[int, int] = defaultdict(int)
        linked: set[int] = set()
        lo, hi = WORK_ITEM_ROWS
        with storage_errors():
            rows = self._table.query_entities(
                _RANGE, parameters={"pk": integration_id, "lo": lo, "hi": hi}
            )
            for row in rows:
                work_item = work_item_of(row["RowKey"])
                if "SentryOrg" in row:
                    linked.add(work_item)
                    revs = (row.get("StateRev"), row.get("AssigneeRev"))
                else:
                    revs = (row.get("Rev"),)
                known[work_item] = max([known[work_item], *(int(r or 0) for r in revs)])
        return {work_item: known[work_item] for work_item in sorted(linked)}

    def delete_markers_before(self, integration_id: str, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` delivery markers written before ``before``; returns how many."""
        lo, hi = WORK_ITEM_ROWS
        with storage_errors():
            markers = [
                row["RowKey"]
                for row in self._table.query_entities(
                    _RANGE + " and Timestamp lt @before",
                    parameters={"pk": integration_id, "lo": lo, "hi": hi, "before": before},
                    select=["RowKey"],
                )
                if is_delivery_row(row["RowKey"])
            ][:limit]
            delete_rows(self._table, integration_id, markers)
        return len(markers)
