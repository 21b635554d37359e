"""Retention: what the timer deletes, in bounded batches, so tables do not grow forever.

* Delivery markers (``w:<work item>:~r:<rev>`` in ``links``) after ``MARKER_DAYS``: Azure
  DevOps retries a delivery for minutes to hours, never for a week, so an older marker can no
  longer catch a duplicate. (A replayed poison message needs none: SyncStatus's link memory
  makes a repeat harmless.)
* Audit rows after ``AUDIT_DAYS``.

Each run deletes at most ``BATCH_ROWS`` rows per integration and table; a backlog shrinks by
that much every tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from azure.data.tables import TableClient

from shared.audit import row_key_at
from shared.registry import MARKER
from shared.storage import AUDIT, LINKS, Storage, storage_errors

MARKER_DAYS = 7
AUDIT_DAYS = 90
BATCH_ROWS = 1000
_TRANSACTION = 100  # Table Storage's cap for one batch


def prune(storage: Storage, integration_id: str, now: datetime | None = None) -> dict[str, int]:
    """Delete old delivery markers and audit rows of one integration; returns the counts."""
    now = now or datetime.now(UTC)
    with storage_errors():
        links = storage.table(LINKS)
        markers = [
            row["RowKey"]
            for row in links.query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi and "
                "Timestamp lt @before",
                parameters={
                    "pk": integration_id,
                    "lo": "w:",
                    "hi": "w;",
                    "before": now - timedelta(days=MARKER_DAYS),
                },
                select=["RowKey"],
            )
            if f":{MARKER}r:" in row["RowKey"]
        ][:BATCH_ROWS]
        _delete(links, integration_id, markers)
        # Audit row keys are inverted time: every row older than the cut sorts after its key.
        audit = storage.table(AUDIT)
        old: list[str] = []
        for row in audit.query_entities(
            "PartitionKey eq @pk and RowKey gt @cut",
            parameters={"pk": integration_id, "cut": row_key_at(now - timedelta(days=AUDIT_DAYS))},
            select=["RowKey"],
        ):
            old.append(row["RowKey"])
            if len(old) >= BATCH_ROWS:
                break
        _delete(audit, integration_id, old)
    return {"markers": len(markers), "audit": len(old)}


def _delete(table: TableClient, partition: str, row_keys: list[str]) -> None:
    for start in range(0, len(row_keys), _TRANSACTION):
        table.submit_transaction(
            [
                ("delete", {"PartitionKey": partition, "RowKey": key})
                for key in row_keys[start : start + _TRANSACTION]
            ]
        )
