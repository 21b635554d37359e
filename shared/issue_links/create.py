"""issue-link ``create``: create a work item from the Sentry issue and link it, once per
form (``issue_links.once``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.azure_devops import paths
from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import (
    FIELD_AREA_PATH,
    FIELD_ASSIGNED_TO,
    FIELD_DESCRIPTION,
    FIELD_ITERATION_PATH,
    FIELD_PRIORITY,
    FIELD_SEVERITY,
    FIELD_TAGS,
    FIELD_TITLE,
)
from shared.azure_devops.fields import PARENT as PARENT_LINK
from shared.azure_devops.shapes import add_hyperlink, add_relation, set_field
from shared.clients import INTERACTIVE, azure_devops_client, sentry_client
from shared.doors import Rejected, Reply
from shared.errors import InvalidInput, StorageUnavailable
from shared.issue_links.form import (
    ITERATION_PATH,
    OTHER_FIELDS,
    PARENT,
    PRIORITY,
    SEVERITY,
    CreateForm,
    default_title,
    description_html,
    read_create,
)
from shared.issue_links.link import HYPERLINK_COMMENT, store_link
from shared.issue_links.once import CreateInProgress, CreateRefused, Plan, create_once
from shared.issue_links.options import type_fields
from shared.issue_links.sentry_values import (
    IssueFacts,
    applicable,
    mapped_values,
    needs_event,
)
from shared.issue_links.type_fields import as_asked, check_asked, fitting, form_values
from shared.log import log_event
from shared.messages.ui_request import UiRequest
from shared.sentry.components import linked
from shared.sentry.shapes import SentryIssue
from shared.store.form_defaults import FormDefaults, Remembered
from shared.store.records import FieldMap, Integration, SentryOrg
from shared.validation import web_link


def create(request: UiRequest) -> Reply:
    form, sent = read_create(request.form.fields), request.form
    client = azure_devops_client(request.integration, INTERACTIVE)
    maps = applicable(request.integration.field_maps, form.project, form.work_item_type)
    issue = None
    if maps or form.title is None or form.description is None or not sent.web_url:
        issue = sentry_client(request.org).get_issue(request.org.slug, sent.issue_id)
    mapped = issue_values(request.org, issue, maps) if issue is not None else {}
    chosen = checked_fields(request.integration, client, form, mapped)
    title, description, web_url = _texts(request, form, issue)
    key = (request.org.slug, sent.issue_id, form.digest(request.org.slug, sent.issue_id))
    plan = Plan(
        form.project,
        form.work_item_type,
        title,
        web_url,
        operations(form, title, description, web_url, chosen),
    )
    try:
        created = create_once(request.storage, client, request.integration.id, key, plan)
    except CreateRefused as exc:
        raise Rejected(400, str(exc)) from None
    except CreateInProgress as exc:
        raise Rejected(409, str(exc)) from None
    store_link(request, created.work_item_id)
    _remember(request, form)
    log_event(
        "issue_link.created",
        integration=request.integration.id,
        sentry_org=request.org.slug,
        issue=sent.issue_id,
        work_item=created.work_item_id,
        new=created.new,
    )
    web = paths.work_item_web_url(
        request.integration.base_url, created.project, created.work_item_id
    )
    return Reply(200, linked(web, created.project, str(created.work_item_id)))


@dataclass(frozen=True)
class Chosen:
    """What the form asks beyond title and description, checked against the work item type:
    field values by reference name, and the parent's API URL."""

    fields: dict[str, Any]
    parent_url: str | None = None


def issue_values(org: SentryOrg, issue: SentryIssue, maps: list[FieldMap]) -> dict[str, str]:
    """The field maps' values for the issue (one more Sentry read, of its latest event, only
    when a map takes the environment or a tag)."""
    if not maps:
        return {}
    tags: dict[str, str] = {}
    if needs_event(maps):
        event = sentry_client(org).latest_event(org.slug, issue.id)
        tags = {tag.key: tag.value for tag in event.tags if tag.value is not None}
    release = (issue.first_release or {}).get("version")
    facts = IssueFacts(
        values={
            "level": issue.level,
            "release": str(release) if release else tags.get("release"),
            "environment": tags.get("environment"),
            "culprit": issue.culprit,
            "firstSeen": issue.first_seen,
            "count": issue.count,
            "userCount": issue.user_count,
            "lastSeen": issue.last_seen,
            "link": web_link(issue.permalink),
        },
        tags=tags,
    )
    return mapped_values(maps, facts)


def checked_fields(
    integration: Integration,
    client: AzureDevOpsClient,
    form: CreateForm,
    mapped: dict[str, str] | None = None,
) -> Chosen:
    """Check the form's fields against the type's own (``type_fields``) and that the parent
    exists; ``InvalidInput`` or ``Rejected`` name the field otherwise. ``mapped``: values from
    the field maps, kept where the type takes them; the form's own choices win."""
    fields = type_fields(integration, client, form.project, form.work_item_type)
    from_maps = fitting(fields, mapped or {})
    asked = [
        *form_values(
            {
                FIELD_ITERATION_PATH: form.iteration_path,
                FIELD_PRIORITY: form.priority,
                FIELD_SEVERITY: form.severity,
            },
            {
                FIELD_ITERATION_PATH: ITERATION_PATH,
                FIELD_PRIORITY: PRIORITY,
                FIELD_SEVERITY: SEVERITY,
            },
        ),
        *as_asked(form.other_fields, OTHER_FIELDS),
    ]
    set_by_form = {FIELD_TITLE, FIELD_DESCRIPTION, FIELD_AREA_PATH, FIELD_TAGS, *from_maps}
    if form.assignee:
        set_by_form.add(FIELD_ASSIGNED_TO)
    values = check_asked(
        fields, asked, set_by_form=set_by_form, what=f"{form.work_item_type} in {form.project}"
    )
    parent_url = None
    if form.parent is not None:
        if client.work_item_title(form.parent) is None:
            raise InvalidInput(
                f"{PARENT}: work item {form.parent} does not exist (or is not visible)"
            )
        parent_url = integration.base_url + paths.work_item(form.parent)
    return Chosen({**from_maps, **values}, parent_url)


def operations(
    form: CreateForm, title: str, description: str, web_url: str | None, chosen: Chosen
) -> list[dict[str, object]]:
    """The JSON Patch that creates the work item ``form`` asks for."""
    ops = [set_field(FIELD_TITLE, title), set_field(FIELD_DESCRIPTION, description)]
    if form.area_path:
        ops.append(set_field(FIELD_AREA_PATH, form.area_path))
    if form.tags:
        ops.append(set_field(FIELD_TAGS, "; ".join(form.tags)))
    if form.assignee:
        ops.append(set_field(FIELD_ASSIGNED_TO, form.assignee))
    ops += [set_field(name, value) for name, value in chosen.fields.items()]
    if chosen.parent_url:
        ops.append(add_relation(PARENT_LINK, chosen.parent_url))
    if web_url:
        ops.append(add_hyperlink(web_url, HYPERLINK_COMMENT))
    return ops


def _remember(request: UiRequest, form: CreateForm) -> None:
    """The choices the form offers next time for this Sentry project; failing to remember
    them is logged, never a failed create."""
    project = request.form.project
    if project is None or not project.slug:
        return
    choices = Remembered(form.project, form.work_item_type, form.area_path, form.iteration_path)
    try:
        FormDefaults(request.storage).remember(
            request.integration.id, request.org.slug, project.slug, choices
        )
    except StorageUnavailable as exc:
        log_event("issue_link.defaults_not_saved", logging.WARNING, error=type(exc).__name__)


def _texts(
    request: UiRequest, form: CreateForm, issue: SentryIssue | None
) -> tuple[str, str, str | None]:
    """Title, description (HTML) and the Sentry issue's URL, from the form or the issue."""
    web_url = request.form.web_url
    title, culprit = form.title, None
    if issue is not None:
        title = form.title or default_title(issue.title, None)
        culprit = issue.culprit
        web_url = web_url or issue.permalink
    assert title is not None
    return title, description_html(form.description, web_url, culprit), web_url
