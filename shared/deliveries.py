"""Service-hook deliveries already queued, so a redelivery is answered without queueing again.

Keys per integration partition in the ``deliveries`` table:
``n:<subscriptionId>:<notificationId>`` (one delivery) and ``r:<work item>:<rev>`` (one
revision, whichever subscription delivered it). Markers are written only after the message is
on the queue: if storage fails in between, a retry queues the change again, and SyncStatus's
watermarks make that harmless. The opposite order could lose a change.
"""

from __future__ import annotations

from azure.data.tables import UpdateMode

from shared.messages import SyncMessage
from shared.storage import DELIVERIES, Storage, storage_errors


def delivery_keys(message: SyncMessage) -> list[str]:
    keys = [f"r:{message.work_item_id:010d}:{message.rev:010d}"]
    delivery = message.delivery
    if delivery.subscription_id and delivery.notification_id is not None:
        keys.append(f"n:{delivery.subscription_id}:{delivery.notification_id}")
    return keys


class DeliveryLog:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def already_queued(self, message: SyncMessage) -> bool:
        keys = delivery_keys(message)
        conditions = " or ".join(f"RowKey eq @k{i}" for i in range(len(keys)))
        params = {"pk": message.integration_id, **{f"k{i}": key for i, key in enumerate(keys)}}
        with storage_errors():
            rows = self._storage.table(DELIVERIES).query_entities(
                f"PartitionKey eq @pk and ( {conditions} )",
                parameters=params,
                select=["RowKey"],
            )
            return any(True for _ in rows)

    def record(self, message: SyncMessage) -> None:
        rows = [
            {
                "PartitionKey": message.integration_id,
                "RowKey": key,
                "WorkItemId": message.work_item_id,
                "Rev": message.rev,
            }
            for key in delivery_keys(message)
        ]
        with storage_errors():
            self._storage.table(DELIVERIES).submit_transaction(
                [("upsert", row, {"mode": UpdateMode.REPLACE}) for row in rows]
            )
