"""Service-hook deliveries already queued, so a redelivery is answered without queueing again.

Two markers per queued change, kept in the ``links`` table under the work item's prefix (so the
webhook reads them with the same query that finds the work item's links):
``w:<work item>:~r:<rev>`` (one revision, whichever subscription delivered it) and
``w:<work item>:~n:<subscriptionId>:<notificationId>`` (one delivery). Markers are written only
after the message is on the queue: if storage fails in between, a retry queues the change
again, and SyncStatus's link memory makes that harmless. The opposite order could lose a change.
"""

from __future__ import annotations

from azure.data.tables import UpdateMode

from shared.messages import SyncMessage
from shared.registry import MARKER, work_item_prefix
from shared.storage import LINKS, Storage, storage_errors


def delivery_keys(message: SyncMessage) -> list[str]:
    prefix = work_item_prefix(message.work_item_id) + MARKER
    keys = [f"{prefix}r:{message.rev:010d}"]
    delivery = message.delivery
    if delivery.subscription_id and delivery.notification_id is not None:
        keys.append(f"{prefix}n:{delivery.subscription_id}:{delivery.notification_id}")
    return keys


def record_delivery(storage: Storage, message: SyncMessage) -> None:
    """Remember that ``message`` is queued (one transaction in the integration's partition)."""
    rows = [
        {"PartitionKey": message.integration_id, "RowKey": key, "Rev": message.rev}
        for key in delivery_keys(message)
    ]
    with storage_errors():
        storage.table(LINKS).submit_transaction(
            [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in rows]
        )
