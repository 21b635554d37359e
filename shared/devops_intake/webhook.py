"""WorkItemWebhook: authenticate an Azure DevOps service hook and queue the change we sync.

Status codes follow Azure DevOps' retry rules (only 408/502/503/504 are retried; other errors
put the subscription on probation and lose new events):

* 202 a change was queued; 200 accepted with nothing to do, and why;
* 400 malformed body; 401 wrong or missing secret; 404 unknown integration; 410 removed
  integration (Azure DevOps then disables the subscription); 413 body too large;
* 503 with ``Retry-After`` when storage is unavailable, so Azure DevOps tries again.

Nothing here answers 500: every failure is mapped by the door kit (``doors.HTTP_ERRORS``).
Each event type has its own handler module, found through ``ROUTES``.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from shared.azure_devops.fields import (
    DEPLOYMENT_COMPLETED,
    GIT_PUSH,
    STAGE_STATE_CHANGED,
    WORK_ITEM_COMMENTED,
    WORK_ITEM_UPDATED,
)
from shared.azure_devops.hooks import ServiceHookEvent
from shared.credentials import presented_secrets, secret_matches
from shared.devops_intake import work_item_commented, work_item_updated
from shared.devops_intake.delivery import Handler, HookDelivery, ignored
from shared.doors import Rejected, Reply, answer
from shared.errors import IntegrationNotFound, IntegrationRemoved
from shared.router import Router
from shared.store.integrations import INTEGRATION_MAX_AGE, Integrations
from shared.store.records import Integration
from shared.store.storage import Storage, get_storage
from shared.validation import describe_invalid

MAX_BODY_BYTES = 2 * 1024 * 1024  # Azure DevOps' own payload limit



def _code_event(name: str) -> Handler:
    """Pushes and deployments: imported on the first one (most deliveries are work items)."""

    def handler(delivery: HookDelivery) -> Reply:
        from shared.devops_intake import code_events

        return getattr(code_events, name)(delivery)

    return handler


ROUTES: Router[Handler] = Router()
ROUTES.add(WORK_ITEM_UPDATED, work_item_updated.handle)
ROUTES.add(WORK_ITEM_COMMENTED, work_item_commented.handle)
ROUTES.add(GIT_PUSH, _code_event("push"))
ROUTES.add(DEPLOYMENT_COMPLETED, _code_event("classic_deploy"))
ROUTES.add(STAGE_STATE_CHANGED, _code_event("stage_completed"))


def handle_delivery(
    body: bytes, headers: Mapping[str, str], storage: Storage | None = None
) -> Reply:
    """Answer one service-hook POST."""
    lowered = {key.lower(): value for key, value in headers.items()}
    return answer("webhook", lambda: _handle(body, lowered, storage))


def _handle(body: bytes, headers: Mapping[str, str], storage: Storage | None) -> Reply:
    event = parse_event(body, headers)
    storage = storage or get_storage()
    integrations = Integrations(storage)
    offered = presented_secrets(headers)
    # A copy of the integration read moments ago only ever lets a request in; refusals are
    # decided on a fresh read, so a secret rotated a moment ago works at once. Removing an
    # integration or finishing a rotation takes effect within INTEGRATION_MAX_AGE seconds.
    integration = _integration(integrations, event.collection_id, INTEGRATION_MAX_AGE)
    if not secret_matches(offered, integration.secret_hashes):
        integration = _integration(integrations, event.collection_id, 0.0)
        if not secret_matches(offered, integration.secret_hashes):
            raise Rejected(401, "missing or wrong webhook secret")
    handler = ROUTES.route(event.event_type)
    if handler is None:
        return ignored(event, f"event type {event.event_type[:64]} is not synced")
    return handler(HookDelivery(storage, integration, event))


def _integration(
    integrations: Integrations, integration_id: str, max_age: float
) -> Integration:
    try:
        return integrations.get(integration_id, max_age=max_age)
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
        raise Rejected(400, describe_invalid(exc)) from None
