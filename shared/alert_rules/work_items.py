"""When an alert rule with our action fires: one work item per Sentry issue and rule (per
incident, for metric alerts), linked to the issue and shown in its sidebar.

A burst of alerts for one issue makes one work item: ``issue_links.once`` records the intent
before Azure DevOps is called, and a concurrent run waits (the queue retries it) until the
first has finished. When the issue already has its work item from this rule and that work item
is done, the alert adds an "occurred again" comment to it, so the regression is seen where the
work was closed; people reopen it if they agree (we do not reopen it for them).

Settings that no longer fit (the project renamed, the type removed) park the message at once
with an audit row naming the setting (``errors.GiveUp``); Azure DevOps throttled or down is
retried by the queue.
"""

from __future__ import annotations

from shared.alert_rules.alert import Alert, again_html, alert_from, description_html
from shared.alert_rules.settings import AlertSettings, as_mapping, read_settings
from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import FIELD_STATE, FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE
from shared.clients import azure_devops_client, sentry_client
from shared.devops_to_sentry.done_states import DoneStates
from shared.doors import Rejected
from shared.errors import AlreadyExists, GiveUp, InvalidInput
from shared.issue_links import external
from shared.issue_links.create import checked_fields, issue_values, operations
from shared.issue_links.form import default_title
from shared.issue_links.once import CreateInProgress, CreateRefused, Plan, create_once
from shared.issue_links.sentry_values import applicable
from shared.log import log_event
from shared.messages.sentry_event import SentryEventMessage
from shared.store.audit import APPLIED, KIND_ALERT, SKIPPED, AuditEntry, AuditLog
from shared.store.links import Links
from shared.store.records import Integration, SentryOrg
from shared.store.storage import Storage
from shared.store.sync_settings import OFF, regression_policy


def create_for_alert(
    storage: Storage, integration: Integration, org: SentryOrg, message: SentryEventMessage
) -> None:
    alert = alert_from(message)
    if alert is None:
        _audit(storage, integration, org, None, 0, SKIPPED, "alert", "nothing to create")
        return
    try:
        settings = read_settings(as_mapping(alert.settings))
    except InvalidInput as exc:
        raise GiveUp(f"the alert rule's settings are invalid: {exc}") from None
    client = azure_devops_client(integration)
    form = settings.form
    maps = applicable(integration.field_maps, form.project, form.work_item_type)
    mapped = {}
    if maps and alert.issue_id is not None:  # a metric alert has no issue to take values from
        issue = sentry_client(org).get_issue(org.slug, alert.issue_id)
        mapped = issue_values(org, issue, maps)
    try:
        chosen = checked_fields(integration, client, form, mapped)
    except (InvalidInput, Rejected) as exc:
        raise GiveUp(f"the alert rule's settings no longer fit Azure DevOps: {exc}") from None
    title = _title(alert, settings)
    plan = Plan(
        settings.form.project,
        settings.form.work_item_type,
        title,
        alert.issue_url if alert.issue_id else None,
        operations(settings.form, title, description_html(alert), alert.issue_url, chosen),
    )
    try:
        created = create_once(
            storage, client, integration.id, (org.slug, alert.subject, alert.digest()), plan
        )
    except CreateRefused as exc:
        raise GiveUp(f"the alert rule's settings no longer fit Azure DevOps: {exc}") from None
    except CreateInProgress as exc:
        raise CreateInProgress(f"{exc} (alert rule {alert.rule_title})") from None
    if alert.issue_id is not None:
        _link(storage, integration, created.work_item_id, org.slug, alert.issue_id)
    if created.new:
        _audit(
            storage, integration, org, alert, created.work_item_id, APPLIED, "alert-create",
            f"created for alert rule {alert.rule_title}",
        )  # fmt: skip
        log_event(
            "alert_rules.created",
            integration=integration.id,
            sentry_org=org.slug,
            work_item=created.work_item_id,
        )
        return
    _again(storage, client, integration, org, alert, created.work_item_id)


def _title(alert: Alert, settings: AlertSettings) -> str:
    prefix = f"{settings.title_prefix} " if settings.title_prefix else ""
    return default_title(prefix + alert.title, None)


def _link(
    storage: Storage, integration: Integration, work_item_id: int, slug: str, issue_id: str
) -> None:
    """The link and its place in the Sentry sidebar (both repeatable; a failure retries)."""
    links = Links(storage)
    try:
        link = links.add(integration.id, work_item_id, slug, issue_id)
    except AlreadyExists:
        link = links.issue_side(integration.id, work_item_id, slug, issue_id)
    if link is not None and not link.external_issue_id:
        external.register(storage, integration, link)


def _again(
    storage: Storage,
    client: AzureDevOpsClient,
    integration: Integration,
    org: SentryOrg,
    alert: Alert,
    work_item_id: int,
) -> None:
    """The issue already has its work item from this rule: a comment if it is done."""
    fields = client.work_item(work_item_id).fields
    project = str(fields.get(FIELD_TEAM_PROJECT) or "")
    states = DoneStates(storage).of_work_item(integration, client, fields)
    state = str(fields.get(FIELD_STATE) or "")
    if not states.is_done(state):
        _audit(
            storage, integration, org, alert, work_item_id, SKIPPED, "alert",
            f"the issue already has work item {work_item_id} from this rule ({state})",
        )  # fmt: skip
        return
    policy = regression_policy(
        integration.sync, integration.resolve_states, project, None,
        str(fields.get(FIELD_WORK_ITEM_TYPE) or ""),
    )  # fmt: skip
    if policy != OFF:
        # The regression policy speaks for a done work item's issue occurring again (the
        # sweep sees the regression): one regression, one reaction.
        _audit(
            storage, integration, org, alert, work_item_id, SKIPPED, "alert",
            f"work item {work_item_id} is {state}: the regression policy ({policy}) handles it",
        )  # fmt: skip
        return
    client.add_comment(project, work_item_id, again_html(alert))
    _audit(
        storage, integration, org, alert, work_item_id, APPLIED, "alert-comment",
        f"work item {work_item_id} is {state}: commented that the issue occurred again",
    )  # fmt: skip


def _audit(
    storage: Storage,
    integration: Integration,
    org: SentryOrg,
    alert: Alert | None,
    work_item_id: int,
    outcome: str,
    action: str,
    reason: str,
) -> None:
    AuditLog(storage).record(
        integration.id,
        AuditEntry(
            kind=KIND_ALERT,
            work_item_id=work_item_id,
            rev=0,
            outcome=outcome,
            action=action,
            reason=reason,
            sentry_org=org.slug,
            issue_id=alert.issue_id if alert else None,
        ),
    )
