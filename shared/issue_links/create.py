"""issue-link ``create``: create a work item from the Sentry issue and link it, once per
form (``issue_links.once``)."""

from __future__ import annotations

from shared.azure_devops import paths
from shared.azure_devops.fields import (
    FIELD_AREA_PATH,
    FIELD_ASSIGNED_TO,
    FIELD_DESCRIPTION,
    FIELD_TAGS,
    FIELD_TITLE,
)
from shared.azure_devops.shapes import add_hyperlink, set_field
from shared.clients import INTERACTIVE, azure_devops_client, sentry_client
from shared.doors import Rejected, Reply
from shared.issue_links.form import CreateForm, default_title, description_html, read_create
from shared.issue_links.link import HYPERLINK_COMMENT, store_link
from shared.issue_links.once import CreateInProgress, CreateRefused, Plan, create_once
from shared.log import log_event
from shared.messages.ui_request import UiRequest
from shared.sentry.components import linked


def create(request: UiRequest) -> Reply:
    form, sent = read_create(request.form.fields), request.form
    title, description, web_url = _texts(request, form)
    client = azure_devops_client(request.integration, INTERACTIVE)
    key = (request.org.slug, sent.issue_id, form.digest(request.org.slug, sent.issue_id))
    plan = Plan(
        form.project,
        form.work_item_type,
        title,
        web_url,
        operations(form, title, description, web_url),
    )
    try:
        created = create_once(request.storage, client, request.integration.id, key, plan)
    except CreateRefused as exc:
        raise Rejected(400, str(exc)) from None
    except CreateInProgress as exc:
        raise Rejected(409, str(exc)) from None
    store_link(request, created.work_item_id)
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


def operations(
    form: CreateForm, title: str, description: str, web_url: str | None
) -> list[dict[str, object]]:
    """The JSON Patch that creates the work item ``form`` asks for."""
    ops = [set_field(FIELD_TITLE, title), set_field(FIELD_DESCRIPTION, description)]
    if form.area_path:
        ops.append(set_field(FIELD_AREA_PATH, form.area_path))
    if form.tags:
        ops.append(set_field(FIELD_TAGS, "; ".join(form.tags)))
    if form.assignee:
        ops.append(set_field(FIELD_ASSIGNED_TO, form.assignee))
    if web_url:
        ops.append(add_hyperlink(web_url, HYPERLINK_COMMENT))
    return ops


def _texts(request: UiRequest, form: CreateForm) -> tuple[str, str, str | None]:
    """Title, description (HTML) and the Sentry issue's URL, from the form or the issue."""
    web_url = request.form.web_url
    title, culprit = form.title, None
    if form.title is None or form.description is None or not web_url:
        issue = sentry_client(request.org).get_issue(request.org.slug, request.form.issue_id)
        title = form.title or default_title(issue.title, None)
        culprit = issue.culprit
        web_url = web_url or issue.permalink
    assert title is not None
    return title, description_html(form.description, web_url, culprit), web_url
