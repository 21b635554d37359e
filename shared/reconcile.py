"""Reconcile: find work-item changes whose service hooks never arrived, and queue them.

For the linked work items of an integration it reads their current ``rev`` in batches
(``workitemsbatch``, 200 ids a call). A work item whose ``rev`` is newer than everything we
know of it (its links' memory, the revisions the webhook queued, the last reconcile) has its
updates read (``GET .../workItems/{id}/updates``, the same shape service hooks deliver); each
update past what we know that changed the state or the assignee becomes exactly the message
SyncStatus would have received, and SyncStatus's link memory makes a repeat harmless.

Rows it keeps, under the work item's prefix in the ``links`` table: ``w:<id>:~seen`` with the
revision reconciled through, next to the webhook's ``w:<id>:~r:<rev>`` markers.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from azure.data.tables import UpdateMode
from pydantic import ValidationError

from shared.changes import message_for
from shared.clients import azure_devops_client
from shared.deliveries import record_delivery
from shared.log import log_event
from shared.messages import SyncMessage
from shared.payloads import FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE, WorkItemUpdate
from shared.registry import MARKER, Integration, Registry, work_item_prefix
from shared.storage import LINKS, Storage, storage_errors

BATCH = 200
FIELD_REV = "System.Rev"


def _seen_key(work_item_id: int) -> str:
    return f"{work_item_prefix(work_item_id)}{MARKER}seen"


class Reconciler:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._registry = Registry(storage)

    def known_revisions(self, integration_id: str) -> dict[int, int]:
        """For each linked work item, the newest revision we know of."""
        known: dict[int, int] = defaultdict(int)
        linked: set[int] = set()
        with storage_errors():
            rows = self._storage.table(LINKS).query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": integration_id, "lo": "w:", "hi": "w;"},
            )
            for row in rows:
                work_item = int(row["RowKey"].split(":")[1])
                if "SentryOrg" in row:
                    linked.add(work_item)
                    revs = (row.get("StateRev"), row.get("AssigneeRev"))
                else:
                    revs = (row.get("Rev"),)
                known[work_item] = max([known[work_item], *(int(r or 0) for r in revs)])
        return {work_item: known[work_item] for work_item in sorted(linked)}

    def reconcile(self, integration_id: str, *, dry_run: bool = False) -> list[SyncMessage]:
        """Queue (or, dry, only return) the changes that never reached us."""
        integration = self._registry.get_integration(integration_id)
        known = self.known_revisions(integration.id)
        client = azure_devops_client(integration)
        ids = list(known)
        missed: list[SyncMessage] = []
        for start in range(0, len(ids), BATCH):
            items = client.work_items(
                ids[start : start + BATCH], [FIELD_REV, FIELD_WORK_ITEM_TYPE, FIELD_TEAM_PROJECT]
            )
            for item in items:
                work_item, rev = int(item["id"]), int(item.get("rev") or 0)
                if rev <= known.get(work_item, 0):
                    continue
                found = self._missed_changes(client, integration, item, known[work_item])
                missed += found
                if not dry_run:
                    for message in found:
                        self._storage.send(message.encode())
                        record_delivery(self._storage, message)
                    self._mark_seen(integration.id, work_item, rev)
        log_event(
            "reconcile.done",
            integration=integration.id,
            work_items=len(ids),
            missed=len(missed),
            dry_run=dry_run,
        )
        return missed

    def _missed_changes(
        self, client: Any, integration: Integration, item: dict[str, Any], known: int
    ) -> list[SyncMessage]:
        fields = item.get("fields") or {}
        work_item = int(item["id"])
        # Update n usually produced revision n; start a little early and filter on rev.
        updates = client.work_item_updates(work_item, skip=max(0, known - 1))
        found = []
        for raw in updates:
            try:
                update = WorkItemUpdate.model_validate(raw)
            except ValidationError:
                log_event("reconcile.unreadable_update", logging.WARNING, work_item=work_item)
                continue
            if update.rev <= known:
                continue
            message = message_for(
                update,
                work_item,
                integration_id=integration.id,
                project_id=None,
                project_name=str(fields.get(FIELD_TEAM_PROJECT) or "") or None,
                work_item_type=str(fields.get(FIELD_WORK_ITEM_TYPE) or "") or None,
            )
            if isinstance(message, SyncMessage):
                found.append(message)
        return found

    def _mark_seen(self, integration_id: str, work_item: int, rev: int) -> None:
        with storage_errors():
            self._storage.table(LINKS).upsert_entity(
                {"PartitionKey": integration_id, "RowKey": _seen_key(work_item), "Rev": rev},
                mode=UpdateMode.REPLACE,
            )
