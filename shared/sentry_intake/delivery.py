"""What a Sentry webhook handler gets (a verified delivery) and how it answers "nothing to do"."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from shared.doors import Reply
from shared.log import log_event
from shared.sentry.webhooks import Envelope
from shared.store.records import Integration, SentryOrg
from shared.store.storage import Storage


@dataclass(frozen=True)
class SentryDelivery:
    """A webhook whose signature matched ``org``'s client secret."""

    storage: Storage
    integration: Integration
    org: SentryOrg
    resource: str
    envelope: Envelope
    request_id: str | None

    @property
    def event(self) -> str:
        return f"{self.resource}.{self.envelope.action}"


Handler = Callable[[SentryDelivery], Reply]

# Sentry sends a uuid4 per attempt: kept in the message for log correlation only (a retry of
# the same event carries a new one, so it cannot de-duplicate anything).
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{1,128}$")


def usable_request_id(value: str | None) -> str | None:
    """The Request-ID if it looks like one (a uuid, as Sentry sends), else None."""
    value = (value or "").strip()
    return value if _REQUEST_ID.match(value) else None


def ignored(delivery: SentryDelivery, reason: str) -> Reply:
    """200 with the reason: Sentry counts anything else as a failure of the integration."""
    log_event(
        "sentry_webhook.ignored",
        integration=delivery.integration.id,
        sentry_org=delivery.org.slug,
        sentry_event=delivery.event[:80],
        reason=reason,
    )
    return Reply(200, {"status": "ignored", "reason": reason})
