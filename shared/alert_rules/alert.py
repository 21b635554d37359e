"""What an alert that fired asks for, read from the Sentry event message (pure): an issue
alert (``event_alert``) or a metric alert (``metric_alert``), with the rule's settings."""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass

from shared.messages.sentry_event import SentryEventMessage
from shared.sentry.webhooks import MetricAlertData, Setting
from shared.validation import web_link

# Metric alert actions that mean "it is happening" (``resolved`` means it stopped).
FIRING = frozenset({"critical", "warning"})


@dataclass(frozen=True)
class Alert:
    rule: str  # the rule's id, or its title when Sentry sends no id
    rule_title: str
    issue_id: str | None  # None for metric alerts, which have no issue
    incident: str | None  # metric alerts: the incident; one work item per incident
    title: str
    message: str | None
    culprit: str | None
    issue_url: str | None
    event_url: str | None
    settings: list[Setting]

    @property
    def subject(self) -> str:
        """What a work item is made for once: the issue, or the metric rule."""
        return self.issue_id or f"metric-{self.rule}"[:60]

    def digest(self) -> str:
        text = "\x1f".join((self.rule, self.incident or ""))
        return "alert-" + hashlib.sha256(text.encode()).hexdigest()[:26]


def _issue_url(event_url: str | None) -> str | None:
    """``…/issues/<id>/events/<event>/`` -> ``…/issues/<id>/``."""
    if not event_url or "/events/" not in event_url:
        return event_url
    return event_url.split("/events/", 1)[0] + "/"


def alert_from(message: SentryEventMessage) -> Alert | None:
    """The alert ``message`` carries, or None when it asks for nothing (a resolved metric
    alert, an action without our settings)."""
    if message.event_alert is not None:
        data = message.event_alert
        rule = data.issue_alert
        event = data.event
        title = (rule.title if rule else None) or data.triggered_rule or "alert rule"
        return Alert(
            rule=(rule.id if rule and rule.id else title)[:200],
            rule_title=title,
            issue_id=event.issue_id,
            incident=None,
            title=event.title or "Sentry issue",
            message=event.message or None,
            culprit=event.culprit,
            issue_url=_issue_url(event.web_url),
            event_url=event.web_url,
            settings=rule.settings if rule else [],
        )
    if message.metric_alert is not None and message.action in FIRING:
        return _metric(message.metric_alert, message.action, message.installation_uuid)
    return None


def _metric(data: MetricAlertData, action: str, installation: str) -> Alert | None:
    rule = data.metric_alert.alert_rule
    if rule is None:
        return None
    ours = [
        (trigger.label, act.settings)
        for trigger in rule.triggers
        for act in trigger.actions
        if act.settings is not None
    ]
    chosen = next((s for label, s in ours if label == action), None) or next(
        (s for _, s in ours), None
    )
    if chosen is None:
        return None
    title = data.description_title or data.metric_alert.title or rule.name or "metric alert"
    return Alert(
        rule=(rule.id or rule.name or "metric")[:200],
        rule_title=rule.name or title,
        issue_id=None,
        incident=data.metric_alert.id,
        title=title,
        message=data.description_text,
        culprit=None,
        issue_url=data.web_url,
        event_url=None,
        settings=chosen,
    )


def description_html(alert: Alert) -> str:
    parts = [f"<p>Sentry alert rule <b>{html.escape(alert.rule_title)}</b> fired.</p>"]
    if alert.message:
        parts.append(f"<p>{html.escape(alert.message)}</p>")
    if alert.culprit:
        parts.append(f"<p>Culprit: <code>{html.escape(alert.culprit)}</code></p>")
    links = []
    issue_url, event_url = web_link(alert.issue_url), web_link(alert.event_url)
    if issue_url:
        kind = "Sentry issue" if alert.issue_id else "Sentry alert"
        links.append(f'<a href="{html.escape(issue_url, quote=True)}">{kind}</a>')
    if event_url:
        links.append(f'<a href="{html.escape(event_url, quote=True)}">the event</a>')
    if links:
        parts.append("<p>" + " · ".join(links) + "</p>")
    return "".join(parts)


def again_html(alert: Alert) -> str:
    link = web_link(alert.event_url) or web_link(alert.issue_url)
    where = f' (<a href="{html.escape(link, quote=True)}">event</a>)' if link else ""
    return (
        f"<p>Occurred again: Sentry alert rule <b>{html.escape(alert.rule_title)}</b> fired "
        f"for this issue{where} after the work item was done.</p>"
    )
