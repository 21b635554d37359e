"""Retention: what the timer deletes, in bounded batches, so tables do not grow forever.

* Delivery markers (``w:<work item>:~r:<rev>`` in ``links``) after ``MARKER_DAYS``: Azure
  DevOps retries a delivery for minutes to hours, never for a week, so an older marker can no
  longer catch a duplicate. (A replayed poison message needs none: SyncStatus's link memory
  makes a repeat harmless.) Sentry webhooks leave no markers: each Sentry retry carries a
  new Request-ID, so the work is made idempotent where it is done (note ids, current state).
* Audit rows after ``AUDIT_DAYS``.

Each run deletes at most ``BATCH_ROWS`` rows per integration and table; a backlog shrinks by
that much every tick.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.store.audit import AuditLog
from shared.store.deliveries import Deliveries
from shared.store.storage import Storage

MARKER_DAYS = 7
AUDIT_DAYS = 90
BATCH_ROWS = 1000


def prune(storage: Storage, integration_id: str, now: datetime | None = None) -> dict[str, int]:
    """Delete old delivery markers and audit rows of one integration; returns the counts."""
    now = now or datetime.now(UTC)
    markers = Deliveries(storage).delete_markers_before(
        integration_id, now - timedelta(days=MARKER_DAYS), BATCH_ROWS
    )
    audit = AuditLog(storage).delete_before(
        integration_id, now - timedelta(days=AUDIT_DAYS), BATCH_ROWS
    )
    return {"markers": markers, "audit": audit}
