"""Resources SentryEvents acts on (``issue``, ``comment``, ``event_alert``, ``metric_alert``):
checked, trimmed to what matters and queued as a ``SentryEventMessage``: one queue put, no
storage read. Whether a direction is on, the issue linked or the organization installed is
decided by SentryEvents with the settings current when it runs, so a webhook never drops an
event because of a setting (a setting changed a moment ago, or a cached one)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from shared.doors import Rejected, Reply
from shared.log import log_event
from shared.messages.sentry_event import (
    MAX_COMMENT_CHARACTERS,
    MAX_ENCODED_BYTES,
    SentryEventMessage,
)
from shared.sentry.webhooks import CommentData, EventAlertData, IssueData, MetricAlertData
from shared.sentry_intake.delivery import SentryDelivery
from shared.validation import describe_invalid

# resource -> (the model of its data, the message field that carries it)
_DATA: dict[str, tuple[type[BaseModel], str]] = {
    "issue": (IssueData, "issue"),
    "comment": (CommentData, "comment"),
    "event_alert": (EventAlertData, "event_alert"),
    "metric_alert": (MetricAlertData, "metric_alert"),
}


def queue(delivery: SentryDelivery) -> Reply:
    model, field = _DATA[delivery.resource]
    try:
        data = model.model_validate(delivery.envelope.data)
    except ValidationError as exc:
        raise Rejected(400, describe_invalid(exc, prefix="data.")) from None
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
