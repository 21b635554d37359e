"""SentryWebhook: verify a Sentry integration-platform webhook, record installation changes and
queue the resources later functions act on.

``POST /api/sentry/{integrationId}/{org}/webhook`` (authLevel ``anonymous``: Sentry cannot send
a function key; every request is verified instead). Sentry wants an answer within 1 s and
disables an internal integration that keeps failing, so the work here is a few table reads, at
most one queue write, and answers are:

* 202 queued; 200 handled (installation) or ignored, with the reason (unknown resource or
  action, duplicate ``Request-ID``, an organization that uninstalled the integration);
* 400 malformed body or headers (ids included); 401 a wrong or missing
  ``Sentry-Hook-Signature`` (the same answer for ids we do not know or cannot check: no
  client secret configured), a ``Sentry-Hook-Timestamp`` older than 5 minutes, or an envelope
  naming another installation than the organization's (nothing is written); 413 body too
  large;
* 503 with ``Retry-After`` when storage is down (mapped in ``doors.HTTP_ERRORS``; never 500).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from pydantic import ValidationError

from shared.doors import Rejected, Reply, answer
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
from shared.sentry_intake.caller import caller
from shared.sentry_intake.delivery import Handler, SentryDelivery, ignored, usable_request_id
from shared.store.storage import Storage, get_storage
from shared.validation import describe_invalid

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
    who = caller(storage, integration_id, slug, EDGE)
    if not hook_signature_matches(who.secret, body, headers.get(HOOK_SIGNATURE_HEADER)):
        raise Rejected(401, "missing or wrong Sentry-Hook-Signature")
    integration, org = who.integration, who.org
    assert integration is not None and org is not None  # nothing else signs
    if not hook_is_fresh(headers.get(HOOK_TIMESTAMP_HEADER), time.time()):
        # Sentry signs the body only: a captured delivery replays with a fresh timestamp, so
        # this stops only a careless replay; what matters is made harmless where it lands.
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
    if (
        resource != "installation"  # a reinstall names its new installation
        and org.installation_uuid
        and envelope.installation.uuid.lower() != org.installation_uuid
    ):
        raise Rejected(401, "the delivery names another installation than this organization's")

    request_id = usable_request_id(headers.get(REQUEST_ID_HEADER))
    delivery = SentryDelivery(storage, integration, org, resource, envelope, request_id)
    handler = ROUTES.route(delivery.event)
    if handler is None:
        return ignored(delivery, f"{delivery.event[:80]} is not acted on")
    return handler(delivery)
