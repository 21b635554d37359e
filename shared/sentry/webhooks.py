"""Sentry integration-platform webhooks, as pydantic models: the envelope every resource shares
and the ``data`` of each resource we act on. Unknown fields are ignored; ids are read as
strings (Sentry sends some as numbers, some as strings)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Text = Annotated[str, Field(max_length=512)]
LongText = Annotated[str, Field(max_length=100_000)]
# Ids are checked here, at the edge: an id with a control character or a space would be
# queued, then fail every retry. Sentry's ids are numbers, hex or uuids; actor ids may be a
# word ("sentry").
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:@-]{1,128}$")]
IssueId = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,19}$")]  # a Group id: a positive number


class _Model(BaseModel):
    model_config = ConfigDict(
        defer_build=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )


class Actor(_Model):
    """Who caused the event: ``user`` (a person), or ``application`` (``id`` ``sentry`` for
    Sentry itself, else the uuid of the integration whose token made the change)."""

    type: Text
    id: Id | None = None
    name: Text | None = None


class InstallationRef(_Model):
    uuid: Id


class Envelope(_Model):
    action: Text
    installation: InstallationRef
    data: dict[str, Any] = {}
    actor: Actor | None = None


class Organization(_Model):
    slug: Text


class App(_Model):
    uuid: Id | None = None
    slug: Text | None = None


class Installation(_Model):
    uuid: Id
    organization: Organization | None = None
    status: Text | None = None
    app: App | None = None


class InstallationData(_Model):
    installation: Installation


class Project(_Model):
    id: Id | None = None
    slug: Text | None = None
    name: Text | None = None


class Assignee(_Model):
    type: Text
    id: Id | None = None
    name: Text | None = None
    email: Text | None = None


class Issue(_Model):
    id: IssueId
    short_id: Text | None = Field(None, alias="shortId")
    title: LongText | None = None
    culprit: LongText | None = None
    status: Text | None = None
    substatus: Text | None = None
    web_url: Text | None = None
    permalink: Text | None = None
    project: Project | None = None


class IssueData(_Model):
    issue: Issue
    resolution_type: Text | None = None
    assignee: Assignee | None = None


class CommentData(_Model):
    comment_id: Id
    issue_id: IssueId
    comment: LongText = ""
    project_slug: Text | None = None
    timestamp: Text | None = None


class Setting(_Model):
    name: Text
    value: Any = None


class Event(_Model):
    event_id: Id | None = None
    issue_id: IssueId | None = None
    title: LongText | None = None
    message: LongText | None = None
    culprit: LongText | None = None
    level: Text | None = None
    web_url: Text | None = None
    issue_url: Text | None = None


class IssueAlert(_Model):
    id: Id | None = None
    title: Text | None = None
    settings: list[Setting] = []


class EventAlertData(_Model):
    event: Event
    triggered_rule: Text | None = None
    issue_alert: IssueAlert | None = None


class AlertRuleAction(_Model):
    type: Text | None = None
    settings: list[Setting] | None = None


class AlertRuleTrigger(_Model):
    label: Text | None = None
    actions: list[AlertRuleAction] = []


class AlertRule(_Model):
    id: Id | None = None
    name: Text | None = None
    triggers: list[AlertRuleTrigger] = []


class MetricAlert(_Model):
    id: Id | None = None
    title: Text | None = None
    alert_rule: AlertRule | None = None


class MetricAlertData(_Model):
    metric_alert: MetricAlert
    description_text: LongText | None = None
    description_title: Text | None = None
    web_url: Text | None = None
