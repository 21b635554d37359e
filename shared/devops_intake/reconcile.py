"""Reconcile: find work-item changes whose service hooks never arrived, and queue them.

For the linked work items of an integration it reads their current ``rev`` in batches
(``workitemsbatch``, 200 ids a call). A work item whose ``rev`` is newer than everything we
know of it (its links' memory, the revisions the webhook queued, the last reconcile) has its
updates read (``GET .../workItems/{id}/updates``, the same shape service hooks deliver); each
update past what we know that changed the state or the assignee becomes exactly the message
SyncStatus would have received, and SyncStatus's link memory makes a repeat harmless.

It keeps the revision reconciled through as a watermark (``store.deliveries``), next to the
webhook's delivery markers.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from shared.azure_devops.fields import FIELD_REV, FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE
from shared.azure_devops.hooks import WorkItemUpdate
from shared.clients import azure_devops_client, made_by_app
from shared.devops_intake.work_item_updated import remember_queued
from shared.devops_to_sentry.changes import message_for
from shared.log import log_event
from shared.messages.sync import SyncMessage
from shared.store.deliveries import Deliveries
from shared.store.integrations import Integrations
from shared.store.records import Integration
from shared.store.storage import Storage

BATCH = 200


class Reconciler:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._integrations = Integrations(storage)
        self._deliveries = Deliveries(storage)

    def reconcile(self, integration_id: str, *, dry_run: bool = False) -> list[SyncMessage]:
        """Queue (or, dry, only return) the changes that never reached us."""
        integration = self._integrations.get(integration_id)
        known = self._deliveries.known_revisions(integration.id)
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
                        remember_queued(self._storage, message)
                    self._deliveries.mark_seen(integration.id, work_item, rev)
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
            if update.rev <= known or update.rev == 1:
                continue  # known, or the creation (before any link could exist)
            message = message_for(
                update,
                work_item,
                integration_id=integration.id,
                project_id=None,
                project_name=str(fields.get(FIELD_TEAM_PROJECT) or "") or None,
                work_item_type=str(fields.get(FIELD_WORK_ITEM_TYPE) or "") or None,
            )
            if isinstance(message, SyncMessage) and not made_by_app(
                integration, message.changed_by
            ):
                found.append(message)  # our own writes (Sentry's changes) go back nowhere
        return found
