"""SentryWebhook: verify a Sentry integration-platform webhook, record installation changes and
queue the resources later functions act on.

``POST /api/sentry/{integrationId}/{org}/webhook`` (authLevel ``anonymous``: Sentry cannot send
a function key; every request is verified instead). Sentry wants an answer within 1 s and
disables an internal integration that keeps failing, so the work here is a few table reads, at
most one queue write, and answers are:

* 202 queued; 200 handled (installation) or ignored, with the reason (unknown resource or
  action, duplicate ``Request-ID``, an organization that uninstalled the integration);
* 400 malformed body or headers; 401 no client secret configured, a wrong or missing
  ``Sentry-Hook-Signature``, or a ``Sentry-Hook-Timestamp`` older than 5 minutes (nothing is
  written); 404 unknown integration or organization; 413 body too large;
* 503 with ``Retry-After`` when storage is down (mapped in ``doors.HTTP_ERRORS``; never 500).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from pydantic import ValidationError

from shared.credentials import token_from_setting
from shared.doors import Rejected, Reply, answer
from shared.errors import InvalidInput, StorageUnavailable
from shared.log import log_event
from shared.router import Router
from shared.sentry.signatures import (
    HOOK_RESOURCE_HEADER,
    HOOK_SIGNATURE_HEADER,
    HOOK_TIMESTAMP_HEADER,
    REQUEST_ID_HEADER,
    hook_is_fresh,
    hook_signature_matches,
)
from shared.sentry.webhooks import Envelope
from shared.sentry_intake import events, installation
from shared.sentry_intake.delivery import Handler, SentryDelivery, ignored
from shared.store.integrations import INTEGRATION_MAX_AGE, Integrations
from shared.store.sentry_hooks import SentryHooks, usable_request_id
from shared.store.storage import Storage, get_storage
from shared.validation import check_integration_id, check_slug, describe_invalid

MAX_BODY_BYTES = 2 * 1024 * 1024
EDGE = "sentry_webhook"

ROUTES: Router[Handler] = Router()
ROUTES.add("installation.created", installation.created)
ROUTES.add("installation.deleted", installation.deleted)
for _resource in ("issue", "comment", "event_alert", "metric_alert"):
    ROUTES.add(_resource, events.queue)


def handle_sentry_hook(
    integration_id: str | None,
    org: str | None,
    body: bytes,
    headers: Mapping[str, str],
    storage: Storage | None = None,
) -> Reply:
    lowered = {key.lower(): value for key, value in headers.items()}
    return answer(EDGE, lambda: _handle(integration_id, org, body, lowered, storage))


def _handle(
    integration_id: str | None,
    slug: str | None,
    body: bytes,
    headers: Mapping[str, str],
    storage: Storage | None,
) -> Reply:
    if len(body) > MAX_BODY_BYTES:
        raise Rejected(413, f"body is larger than {MAX_BODY_BYTES} bytes")
    storage = storage or get_storage()
    integration = Integrations(storage).get(
        _checked(check_integration_id, integration_id, "integration"),
        with_orgs=True,
        max_age=INTEGRATION_MAX_AGE,
    )
    org = integration.sentry_org(_checked(check_slug, slug, "Sentry organization"))
    if org is None:
        raise Rejected(404, "unknown Sentry organization")
    if not org.client_secret_setting:
        raise Rejected(
            401, "no client secret is configured for this organization (sentry-update)"
        )
    secret = token_from_setting(org.client_secret_setting)
    if not hook_signature_matches(secret, body, headers.get(HOOK_SIGNATURE_HEADER)):
        raise Rejected(401, "missing or wrong Sentry-Hook-Signature")
    if not hook_is_fresh(headers.get(HOOK_TIMESTAMP_HEADER), time.time()):
        raise Rejected(401, "Sentry-Hook-Timestamp is missing or older than 5 minutes")
    resource = (headers.get(HOOK_RESOURCE_HEADER) or "").strip()
    if not resource or len(resource) > 64:
        raise Rejected(400, "the Sentry-Hook-Resource header is missing")
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] == "json_invalid":
            raise Rejected(400, "body is not valid JSON") from None
        raise Rejected(400, describe_invalid(exc)) from None

    request_id = usable_request_id(headers.get(REQUEST_ID_HEADER))
    hooks = SentryHooks(storage)
    delivery = SentryDelivery(storage, integration, org, resource, envelope, request_id)
    if request_id and hooks.seen(integration.id, org.slug, request_id):
        return ignored(delivery, "duplicate delivery (Request-ID seen before)")
    handler = ROUTES.route(delivery.event)
    if handler is None:
        return ignored(delivery, f"{delivery.event[:80]} is not acted on")
    reply = handler(delivery)
    if request_id and reply.status < 300:
        try:
            hooks.record(integration.id, org.slug, request_id, resource)
        except StorageUnavailable as exc:
            # Done already; a missing marker costs at most a duplicate later.
            log_event(f"{EDGE}.marker_failed", logging.WARNING, error=str(exc))
    return reply


def _checked(check: Callable[[str], str], value: str | None, what: str) -> str:
    try:
        return check(value or "")
    except InvalidInput:  # a malformed id names nothing we know
        raise Rejected(404, f"unknown {what}") from None
