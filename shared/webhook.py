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

import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from shared.changes import NoChange, change_from_update
from shared.credentials import presented_secrets, secret_matches
from shared.deliveries import delivery_key, record_delivery
from shared.errors import (
    ConfigurationError,
    IntegrationNotFound,
    IntegrationRemoved,
    StorageUnavailable,
)
from shared.log import log_event
from shared.payloads import WORK_ITEM_UPDATED, ServiceHookEvent, WorkItemUpdate
from shared.registry import INTEGRATION_MAX_AGE, Integration, Registry
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
    offered = presented_secrets(headers)
    # A copy of the integration read moments ago only ever lets a request in; refusals are
    # decided on a fresh read, so a secret rotated a moment ago works at once. Removing an
    # integration or finishing a rotation takes effect within INTEGRATION_MAX_AGE seconds.
    integration = _integration(registry, event.collection_id, INTEGRATION_MAX_AGE)
    if not secret_matches(offered, integration.secret_hashes):
        integration = _integration(registry, event.collection_id, 0.0)
        if not secret_matches(offered, integration.secret_hashes):
            raise Rejected(401, "missing or wrong webhook secret")

    if event.event_type != WORK_ITEM_UPDATED:
        return _ignored(event, f"event type {event.event_type[:64]} is not synced")
    update = parse_update(event)
    work_item_id = update.item_id
    if work_item_id is None:
        raise Rejected(400, "resource.workItemId is missing")

    try:
        change = change_from_update(event, update, work_item_id)
    except ValidationError as exc:  # a value within the payload's bounds but not the message's
        raise Rejected(400, describe(exc, prefix="resource.")) from None
    if isinstance(change, NoChange):
        return _ignored(event, change.reason, work_item_id)
    links, seen = registry.links_and_rows(integration.id, work_item_id, [delivery_key(change)])
    if not links:
        return _ignored(event, "work item is not linked to a Sentry issue", work_item_id)
    if seen:
        return _ignored(event, "duplicate delivery", work_item_id)

    storage.send(change.encode())
    try:
        record_delivery(storage, change)
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


def _integration(registry: Registry, integration_id: str, max_age: float) -> Integration:
    try:
        return registry.get_integration(integration_id, max_age=max_age)
    except IntegrationNotFound:
        raise Rejected(404, "unknown integration (resourceContainers.collection.id)") from None
    except IntegrationRemoved:
        raise Rejected(410, "this integration was removed") from None


def parse_event(body: bytes, headers: Mapping[str, str]) -> ServiceHookEvent:
    """Size, JSON and envelope checks; raises ``Rejected`` with a specific reason."""
    declared = headers.get("content-length", "")
    too_long = declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES
    if too_long or len(body) > MAX_BODY_BYTES:
        raise Rejected(413, f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        # pydantic parses the JSON itself: one pass, faster than json.loads + validate.
        return ServiceHookEvent.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            raise Rejected(400, "body is not valid JSON") from None
        if first["type"] == "model_type" and not first["loc"]:
            raise Rejected(400, "body must be a JSON object") from None
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
