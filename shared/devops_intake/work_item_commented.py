"""``workitem.commented``: queue the comment for SyncStatus, which makes it a note on each
linked Sentry issue (``comments.to_sentry``), once."""

from __future__ import annotations

from pydantic import ValidationError

from shared.azure_devops.hooks import WorkItemCommented
from shared.devops_intake.delivery import HookDelivery, ignored
from shared.devops_intake.work_item_updated import queue_once
from shared.doors import Rejected, Reply
from shared.messages.sync import (
    MAX_COMMENT_CHARACTERS,
    Delivery,
    DevOpsComment,
    SyncMessage,
)
from shared.validation import describe_invalid


def handle(delivery: HookDelivery) -> Reply:
    event = delivery.event
    # Queued whatever the comment setting: SyncStatus decides with the setting current then.
    if event.resource is None:
        raise Rejected(400, "resource is missing")
    try:
        commented = WorkItemCommented.model_validate(event.resource)
    except ValidationError as exc:
        raise Rejected(400, describe_invalid(exc, prefix="resource.")) from None
    fields = commented.fields
    if not (fields.history or "").strip():
        return ignored(event, "the comment has no text", commented.id)
    text = fields.history or ""
    try:
        message = SyncMessage(
            integration_id=event.collection_id,
            work_item_id=commented.id,
            rev=commented.rev,
            project_id=event.project_id,
            project_name=fields.team_project,
            work_item_type=fields.work_item_type,
            changed_by=fields.changed_by,
            comment=DevOpsComment(
                id=commented.comment.comment_id if commented.comment else None,
                html=text[:MAX_COMMENT_CHARACTERS],
                author=fields.changed_by,
                truncated=len(text) > MAX_COMMENT_CHARACTERS,
            ),
            delivery=Delivery(
                event_id=event.event_id,
                subscription_id=str(event.subscription_id) if event.subscription_id else None,
                notification_id=event.notification_id,
            ),
        )
    except ValidationError as exc:
        raise Rejected(400, describe_invalid(exc, prefix="resource.")) from None
    return queue_once(delivery, message)
