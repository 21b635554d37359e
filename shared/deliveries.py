"""Service-hook deliveries already queued, so a redelivery is answered without queueing again.

One marker per queued change, ``w:<work item>:~r:<rev>`` in the ``links`` table under the work
item's prefix, so the webhook reads it with the same query that finds the work item's links.
It catches both kinds of duplicate: a redelivered notification (same ``subscriptionId`` and
``notificationId``) carries the same work item and revision, and so does the same change
delivered by a second subscription. Markers are written only after the message is on the
queue: if storage fails in between, a retry queues the change again, and SyncStatus's link
memory makes that harmless. The opposite order could lose a change.
"""

from __future__ import annotations

from azure.data.tables import UpdateMode

from shared.messages import SyncMessage
from shared.registry import MARKER, work_item_prefix
from shared.storage import LINKS, Storage, storage_errors


def delivery_key(message: SyncMessage) -> str:
    return f"{work_item_prefix(message.work_item_id)}{MARKER}r:{message.rev:010d}"


def record_delivery(storage: Storage, message: SyncMessage) -> None:
    """Remember that ``message`` is queued."""
    row = {
        "PartitionKey": message.integration_id,
        "RowKey": delivery_key(message),
        "Rev": message.rev,
    }
    if message.delivery.subscription_id:
        row["SubscriptionId"] = message.delivery.subscription_id
    if message.delivery.notification_id is not None:
        row["NotificationId"] = message.delivery.notification_id
    with storage_errors():
        storage.table(LINKS).upsert_entity(row, mode=UpdateMode.REPLACE)
