"""WorkItemWebhook: authenticate an Azure DevOps service hook and queue the change we sync.

Status codes follow Azure DevOps' retry rules (only 408/502/503/504 are retried; other errors
put the subscription on probation and lose new events):

* 202 a change was queued; 200 accepted with nothing to do, and why;
* 400 malformed body; 401 wrong or missing secret; 404 unknown integration; 410 removed
  integration (Azure DevOps then disables the subscription); 413 body too large;
* 503 with ``Retry-After`` when storage is unavailable, so Azure DevOps tries again.

Nothing here answers 500: every failure is mapped in ``handle_delivery``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from shared.changes import NoChange, change_from_update
from shared.credentials import presented_secrets, secret_matches
from shared.deliveries import DeliveryLog
from shared.errors import (
    ConfigurationError,
    IntegrationNotFound,
    IntegrationRemoved,
    StorageUnavailable,
)
from shared.log import log_event
from shared.payloads import WORK_ITEM_UPDATED, ServiceHookEvent, WorkItemUpdate
from shared.registry import Registry
from shared.replies import Reply, error
from shared.storage import Storage, get_storage

MAX_BODY_BYTES = 2 * 1024 * 1024  # Azure DevOps' own payload limit
RETRY_AFTER_SECONDS = 30


class Rejected(Exception):
    """The request is refused with ``status``; ``reason`` is safe to show the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def handle_delivery(
    body: bytes, headers: Mapping[str, str], storage: Storage | None = None
) -> Reply:
    """Answer one service-hook POST. The single place where webhook errors become statuses."""
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        return _handle(body, lowered, storage)
    except Rejected as exc:
        log_event("webhook.rejected", logging.WARNING, status=exc.status, reason=exc.reason)
        return error(exc.status, exc.reason)
    except (StorageUnavailable, ConfigurationError) as exc:
        log_event("webhook.unavailable", logging.ERROR, error=type(exc).__name__, detail=str(exc))
        return error(
            503, "storage is unavailable; retry later", {"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    except Exception as exc:  # the last guard: a bug must not become a 500 and a probation
        log_event("webhook.failed", logging.ERROR, error=type(exc).__name__)
        logging.getLogger(__name__).debug("webhook failure", exc_info=True)
        return error(
            503,
            "the request could not be processed; retry later",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


def _handle(body: bytes, headers: Mapping[str, str], storage: Storage | None) -> Reply:
    event = parse_event(body, headers)
    storage = storage or get_storage()
    registry = Registry(storage)
    try:
        integration = registry.get_integration(event.collection_id)
    except IntegrationNotFound:
        raise Rejected(404, "unknown integration (resourceContainers.collection.id)") from None
    except IntegrationRemoved:
        raise Rejected(410, "this integration was removed") from None
    if not secret_matches(presented_secrets(headers), integration.secret_hashes):
        raise Rejected(401, "missing or wrong webhook secret")

    if event.event_type != WORK_ITEM_UPDATED:
        return _ignored(event, f"event type {event.event_type[:64]} is not synced")
    update = parse_update(event)
    work_item_id = update.item_id
    if work_item_id is None:
        raise Rejected(400, "resource.workItemId is missing")

    change = change_from_update(event, update, work_item_id)
    if isinstance(change, NoChange):
        return _ignored(event, change.reason, work_item_id)
    if not registry.links_for_work_item(integration.id, work_item_id):
        return _ignored(event, "work item is not linked to a Sentry issue", work_item_id)
    deliveries = DeliveryLog(storage)
    if deliveries.already_queued(change):
        return _ignored(event, "duplicate delivery", work_item_id)

    storage.send(change.encode())
    try:
        deliveries.record(change)
    except StorageUnavailable as exc:
        # The change is queued; a missing marker costs at most a duplicate message later.
        log_event("webhook.marker_failed", logging.WARNING, error=str(exc))
    log_event(
        "webhook.queued",
        integration=integration.id,
        work_item=work_item_id,
        rev=change.rev,
        state=change.state is not None,
        assignee=change.assignee is not None,
    )
    return Reply(202, {"status": "queued", "workItemId": work_item_id, "rev": change.rev})


def parse_event(body: bytes, headers: Mapping[str, str]) -> ServiceHookEvent:
    """Size, JSON and envelope checks; raises ``Rejected`` with a specific reason."""
    declared = headers.get("content-length", "")
    if (declared.isdigit() and int(declared) > MAX_BODY_BYTES) or len(body) > MAX_BODY_BYTES:
        raise Rejected(413, f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise Rejected(400, "body is not valid JSON") from None
    if not isinstance(document, dict):
        raise Rejected(400, "body must be a JSON object")
    try:
        return ServiceHookEvent.model_validate(document)
    except ValidationError as exc:
        raise Rejected(400, describe(exc)) from None


def parse_update(event: ServiceHookEvent) -> WorkItemUpdate:
    if event.resource is None:
        raise Rejected(400, "resource is missing")
    try:
        return WorkItemUpdate.model_validate(event.resource)
    except ValidationError as exc:
        raise Rejected(400, describe(exc, prefix="resource.")) from None


def describe(exc: ValidationError, prefix: str = "") -> str:
    """One short, specific reason from a validation error, without echoing the input."""
    error = exc.errors(include_url=False, include_input=False)[0]
    where = prefix + ".".join(str(part) for part in error["loc"])
    if error["type"] == "missing":
        return f"{where} is missing"
    message = str(error.get("msg", "is invalid"))
    return f"{where}: {message[:120]}"


def _ignored(event: ServiceHookEvent, reason: str, work_item_id: int | None = None) -> Reply:
    log_event(
        "webhook.ignored",
        integration=event.collection_id,
        event_type=event.event_type[:64],
        work_item=work_item_id,
        reason=reason,
    )
    body: dict[str, Any] = {"status": "ignored", "reason": reason}
    if work_item_id is not None:
        body["workItemId"] = work_item_id
    return Reply(200, body)
