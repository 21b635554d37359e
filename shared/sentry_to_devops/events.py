"""SentryEvents: act on one Sentry event message (what SentryWebhook queued).

Handlers are found by ``resource.action`` (``ROUTES``): issue status and assignee changes move
linked work items (``issues``); notes become work item comments (``comments.to_devops``);
alert rules that fired create work items
(``alert_rules.work_items``); a chunk of the sweep of every link runs (``sweep.run``).

Returning means done; ``doors.consume`` retries failures and parks a message on its last
attempt, or at once when no attempt can succeed (unreadable, settings that no longer fit),
in ``<SENTRY_QUEUE_NAME>-poison`` with an audit row (``poison list --queue sentry``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from shared.doors import consume, read_message
from shared.errors import IntegrationNotFound, IntegrationRemoved
from shared.log import log_event
from shared.messages.sentry_event import SentryEventMessage
from shared.router import Router
from shared.store.audit import KIND_SENTRY, SKIPPED, AuditEntry, AuditLog
from shared.store.integrations import Integrations
from shared.store.poison import park
from shared.store.records import Integration, SentryOrg
from shared.store.storage import SENTRY, Storage, get_storage
from shared.sweep.rounds import SWEEP
from shared.validation import normalize_guid

QUEUE_EDGE = "sentry_events"

Handler = Callable[[Storage, Integration, SentryOrg, SentryEventMessage], None]

# Each branch is imported when its first message arrives, not at cold start: an instance that
# never sees an alert never loads the alert rules.


def _issue(storage: Storage, integration: Integration, org: SentryOrg, message: Any) -> None:
    from shared.sentry_to_devops.issues import apply_issue

    apply_issue(storage, integration, org, message)


def _comment(storage: Storage, integration: Integration, org: SentryOrg, message: Any) -> None:
    from shared.comments.to_devops import apply_comment

    apply_comment(storage, integration, org, message)


def _alert(storage: Storage, integration: Integration, org: SentryOrg, message: Any) -> None:
    from shared.alert_rules.work_items import create_for_alert

    create_for_alert(storage, integration, org, message)


ROUTES: Router[Handler] = Router()
ROUTES.add("issue", _issue)
ROUTES.add("comment", _comment)
ROUTES.add("event_alert", _alert)
ROUTES.add("metric_alert", _alert)


def handle_sentry_event(text: str, dequeue_count: int, storage: Storage | None = None) -> None:
    """Process one Sentry event message. Raises ``RetryLater`` to have the queue try again."""
    storage = storage or get_storage()
    consume(
        QUEUE_EDGE,
        dequeue_count,
        lambda: _apply(storage, read_message(SentryEventMessage, text)),
        lambda exc: _give_up(storage, text, exc, dequeue_count),
    )


def _apply(storage: Storage, message: SentryEventMessage) -> None:
    event = f"{message.resource}.{message.action}"
    try:
        # Read as it is now, not cached: a setting changed with the CLI is in force for the
        # next event (the webhook queued it without looking at any).
        integration = Integrations(storage).get(message.integration_id, with_orgs=True)
    except (IntegrationNotFound, IntegrationRemoved) as exc:
        _skip(storage, message.integration_id, message, str(exc))
        return
    if message.resource == SWEEP and message.sweep is not None:
        from shared.sweep.run import Sweep

        Sweep(storage).run_queued(integration, message.sweep)
        return
    org = integration.sentry_org(message.org)
    if org is None or org.uninstalled:
        why = "no longer configured" if org is None else "uninstalled"
        _skip(storage, integration.id, message, f"Sentry organization {message.org} is {why}")
        return
    handler = ROUTES.route(event)
    if handler is None:
        log_event("sentry_events.not_acted_on", integration=integration.id, sentry_event=event)
        return
    handler(storage, integration, org, message)


def _skip(storage: Storage, partition: str, message: SentryEventMessage, reason: str) -> None:
    log_event("sentry_events.skipped", logging.WARNING, integration=partition, reason=reason)
    AuditLog(storage).record(
        partition,
        AuditEntry(
            kind=KIND_SENTRY,
            work_item_id=0,
            rev=0,
            outcome=SKIPPED,
            action="none",
            reason=f"{message.resource}.{message.action}: {reason}",
            sentry_org=message.org,
        ),
    )


def _give_up(storage: Storage, text: str, exc: Exception, dequeue_count: int) -> None:
    partition, org = _names(text)
    reason = park(
        storage,
        SENTRY,
        text,
        what="Sentry event message",
        exc=exc,
        attempts=dequeue_count,
        partition=partition,
        sentry_org=org,
    )
    log_event("sentry_events.poisoned", logging.ERROR, reason=reason[:300])


def _names(text: str) -> tuple[str | None, str | None]:
    """The integration and organization a message names, if it names valid ones."""
    try:
        body = json.loads(text)
        integration = normalize_guid(body["integrationId"])
        org = body.get("org")
        return integration, org if isinstance(org, str) and len(org) <= 64 else None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None, None
