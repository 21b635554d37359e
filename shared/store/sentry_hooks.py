"""The one writer of the ``sentryhooks`` table: Sentry webhook deliveries already handled, by
``Request-ID``, so a redelivery is answered without acting twice. Written after the delivery's
work is done (a failure in between costs at most a duplicate, never a lost event)."""

from __future__ import annotations

import re
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.store.keys import sentry_hook_row
from shared.store.storage import SENTRY_HOOKS, Storage, delete_rows, storage_errors

_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{1,128}$")


def usable_request_id(value: str | None) -> str | None:
    """The Request-ID if it can be a row key (a uuid, as Sentry sends), else None."""
    value = (value or "").strip()
    return value if _REQUEST_ID.match(value) else None


class SentryHooks:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(SENTRY_HOOKS)

    def seen(self, integration_id: str, slug: str, request_id: str) -> bool:
        with storage_errors():
            try:
                self._table.get_entity(integration_id, sentry_hook_row(slug, request_id))
            except ResourceNotFoundError:
                return False
        return True

    def record(self, integration_id: str, slug: str, request_id: str, resource: str) -> None:
        with storage_errors():
            self._table.upsert_entity(
                {
                    "PartitionKey": integration_id,
                    "RowKey": sentry_hook_row(slug, request_id),
                    "Resource": resource,
                },
                mode=UpdateMode.REPLACE,
            )

    def delete_before(self, integration_id: str, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` markers written before ``before``; returns how many."""
        with storage_errors():
            keys = []
            for row in self._table.query_entities(
                "PartitionKey eq @pk and Timestamp lt @before",
                parameters={"pk": integration_id, "before": before},
                select=["RowKey"],
            ):
                keys.append(row["RowKey"])
                if len(keys) >= limit:
                    break
            delete_rows(self._table, integration_id, keys)
        return len(keys)
