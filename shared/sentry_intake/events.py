"""Resources SentryEvents acts on (``issue``, ``comment``, ``event_alert``, ``metric_alert``):
checked, trimmed to what matters and queued as a ``SentryEventMessage``; issue and comment
events only when their direction is on and the issue is linked."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from shared.doors import Rejected, Reply
from shared.log import log_event
from shared.sentry.webhooks import CommentData, EventAlertData, IssueData, MetricAlertData
from shared.sentry_intake.delivery import SentryDelivery, ignored
from shared.sentry_intake.message import (
    MAX_COMMENT_CHARACTERS,
    MAX_ENCODED_BYTES,
    SentryEventMessage,
)
from shared.store.links import Links
from shared.validation import describe_invalid

# resource -> (the model of its data, the message field that carries it)
_DATA: dict[str, tuple[type[BaseModel], str]] = {
    "issue": (IssueData, "issue"),
    "comment": (CommentData, "comment"),
    "event_alert": (EventAlertData, "event_alert"),
    "metric_alert": (MetricAlertData, "metric_alert"),
}


def queue(delivery: SentryDelivery) -> Reply:
    if delivery.org.uninstalled:
        return ignored(delivery, "the integration is uninstalled from this organization")
    model, field = _DATA[delivery.resource]
    try:
        data = model.model_validate(delivery.envelope.data)
    except ValidationError as exc:
        raise Rejected(400, describe_invalid(exc, prefix="data.")) from None
    unwanted = _not_synced(delivery, data)
    if unwanted:
        return ignored(delivery, unwanted)
    extra: dict[str, Any] = {}
    if isinstance(data, CommentData) and len(data.comment) > MAX_COMMENT_CHARACTERS:
        data = data.model_copy(update={"comment": data.comment[:MAX_COMMENT_CHARACTERS]})
        extra["comment_truncated"] = True
    message = SentryEventMessage(
        integration_id=delivery.integration.id,
        org=delivery.org.slug,
        resource=delivery.resource,
        action=delivery.envelope.action,
        installation_uuid=delivery.envelope.installation.uuid,
        request_id=delivery.request_id,
        actor=delivery.envelope.actor,
        **{field: data},
        **extra,
    )
    text = message.encode()
    if len(text.encode("utf-8")) > MAX_ENCODED_BYTES:
        raise Rejected(413, f"the {delivery.resource} is too large to queue")
    delivery.storage.send_sentry_event(text)
    log_event(
        "sentry_webhook.queued",
        integration=delivery.integration.id,
        sentry_org=delivery.org.slug,
        sentry_event=delivery.event,
    )
    return Reply(202, {"status": "queued", "event": delivery.event})


def _not_synced(delivery: SentryDelivery, data: BaseModel) -> str | None:
    """Why an issue or comment event needs no work (the direction is off, the issue is not
    linked), or None: then it is queued."""
    sync = delivery.integration.sync
    if isinstance(data, IssueData):
        if not (sync.status_to_devops or sync.assignee_to_devops):
            return "Sentry -> Azure DevOps sync is off for this integration"
        issue_id = data.issue.id
    elif isinstance(data, CommentData):
        if not sync.comments:
            return "comment sync is off for this integration"
        issue_id = data.issue_id
    else:
        return None
    links = Links(delivery.storage).for_issue(
        delivery.integration.id, delivery.org.slug, issue_id
    )
    return None if links else "the issue is not linked to a work item"

