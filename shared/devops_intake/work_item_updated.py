"""``workitem.updated``: queue the state or assignee change for SyncStatus, once."""

from __future__ import annotations

import time

from pydantic import ValidationError

from shared.azure_devops.hooks import ServiceHookEvent, WorkItemUpdate
from shared.devops_intake.delivery import HookDelivery, ignored
from shared.devops_to_sentry.changes import NoChange, change_from_update
from shared.doors import Rejected, Reply
from shared.log import log_event
from shared.messages.sync import SyncMessage
from shared.store.deliveries import Deliveries
from shared.store.links import Links
from shared.store.storage import Storage
from shared.validation import describe_invalid


def handle(delivery: HookDelivery) -> Reply:
    event = delivery.event
    update = parse_update(event)
    work_item_id = update.item_id
    if work_item_id is None:
        raise Rejected(400, "resource.workItemId is missing")
    try:
        change = change_from_update(event, update, work_item_id)
    except ValidationError as exc:  # a value within the payload's bounds but not the message's
        raise Rejected(400, describe_invalid(exc, prefix="resource.")) from None
    if isinstance(change, NoChange):
        return ignored(event, change.reason, work_item_id)
    return queue_once(delivery, change)


def queue_once(delivery: HookDelivery, message: SyncMessage) -> Reply:
    """Queue ``message`` for SyncStatus if the work item is linked: one RowKey range read (its
    links) and one queue put. A redelivery is queued again and changes nothing there:
    SyncStatus applies each revision once (the link's memory), and a comment is carried once
    (its stored pair; Sentry refuses the same note twice within an hour). No marker is read or
    written: its cost grew with the work item's revisions, and it bought nothing SyncStatus
    does not already guarantee."""
    event, storage, integration = delivery.event, delivery.storage, delivery.integration
    work_item_id = message.work_item_id
    if not _linked(storage, integration.id, work_item_id):
        return ignored(event, "work item is not linked to a Sentry issue", work_item_id)
    storage.send(message.encode())
    log_event(
        "webhook.queued",
        integration=integration.id,
        work_item=work_item_id,
        rev=message.rev,
        state=message.state is not None,
        assignee=message.assignee is not None,
        comment=message.comment is not None,
    )
    return Reply(202, {"status": "queued", "workItemId": work_item_id, "rev": message.rev})


# Work items found linked a moment ago: their next delivery needs no read. Only "linked" is
# remembered: a link removed meanwhile costs a message SyncStatus finds unlinked (it reads the
# links itself), while a remembered "not linked" could drop a change. A link added with the
# CLI is seen at once.
LINKED_SECONDS = 60.0
_linked_until: dict[tuple[str, int], float] = {}


def _linked(storage: Storage, integration_id: str, work_item_id: int) -> bool:
    key = (integration_id, work_item_id)
    now = time.monotonic()
    if _linked_until.get(key, 0.0) > now:
        return True
    if not Links(storage).for_work_item(integration_id, work_item_id):
        return False
    if len(_linked_until) > 10_000:
        _linked_until.clear()
    _linked_until[key] = now + LINKED_SECONDS
    return True


def forget_linked() -> None:
    _linked_until.clear()


def parse_update(event: ServiceHookEvent) -> WorkItemUpdate:
    if event.resource is None:
        raise Rejected(400, "resource is missing")
    try:
        return WorkItemUpdate.model_validate(event.resource)
    except ValidationError as exc:
        raise Rejected(400, describe_invalid(exc, prefix="resource.")) from None


def remember_queued(storage: Storage, message: SyncMessage) -> None:
    """The delivery marker of a queued message (after it is on the queue, never before)."""
    Deliveries(storage).record(
        message.integration_id,
        message.work_item_id,
        message.rev,
        subscription_id=message.delivery.subscription_id,
        notification_id=message.delivery.notification_id,
        comment=message.comment is not None,
    )
