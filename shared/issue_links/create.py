"""issue-link ``create``: create a work item from the Sentry issue and link it, once.

The intent is recorded before Azure DevOps is called (``store.creations``), keyed by the
organization, the issue and the form's content, so the same form sent again never creates a
second work item:

* the intent already names a work item: link it and answer;
* it names none: a create may be under way, or may have reached Azure DevOps without being
  recorded (storage failed right after). The work item is looked for (same project and title,
  created since the intent, with a Hyperlink to this Sentry issue) and linked if found; if not
  and the intent is older than ``PATIENCE_SECONDS``, it is created; otherwise the person is
  asked to try again in a moment (409);
* Azure DevOps refuses the create (unknown project or type, a field rule): the intent is
  dropped and the answer names the field; the outcome is unknown (a timeout): it is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.azure_devops import paths
from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import (
    FIELD_ASSIGNED_TO,
    FIELD_TEAM_PROJECT,
    FIELD_TITLE,
)
from shared.azure_devops.shapes import add_hyperlink, set_field
from shared.clients import INTERACTIVE, azure_devops_client, sentry_client
from shared.doors import Rejected, Reply
from shared.http import ApiAuthError, ApiError, ApiNotFound, ApiRejected, ApiThrottled
from shared.issue_links.form import (
    PROJECT,
    WORK_ITEM_TYPE,
    CreateForm,
    default_title,
    description_html,
    read_create,
)
from shared.issue_links.link import HYPERLINK_COMMENT, store_link
from shared.issue_links.request import UiRequest
from shared.log import log_event
from shared.sentry.components import linked
from shared.store.creations import Creation, Creations

PATIENCE_SECONDS = 120.0
FIELD_DESCRIPTION = "System.Description"
FIELD_AREA_PATH = "System.AreaPath"
FIELD_TAGS = "System.Tags"


def create(request: UiRequest) -> Reply:
    form, sent = read_create(request.form.fields), request.form
    title, description, web_url = _texts(request, form)
    client = azure_devops_client(request.integration, INTERACTIVE)
    creations = Creations(request.storage)
    digest = form.digest(request.org.slug, sent.issue_id)
    creation, new = creations.begin(request.integration.id, request.org.slug, sent.issue_id, digest)
    work_item_id, project = creation.work_item_id, creation.project
    if work_item_id is None and not new:
        work_item_id = _find_earlier(client, form, title, web_url, creation)
        if work_item_id is not None:
            found = client.work_item(work_item_id).fields.get(FIELD_TEAM_PROJECT)
            project = str(found or form.project)
            creations.done(request.integration.id, creation, work_item_id, project)
        elif _age(creation) < PATIENCE_SECONDS:
            raise Rejected(409, "this work item is being created; try again in a moment")
    if work_item_id is None:
        texts = (title, description, web_url)
        work_item_id, project = _create(client, request, creation, form, *texts)
    store_link(request, work_item_id)
    log_event(
        "issue_link.created",
        integration=request.integration.id,
        sentry_org=request.org.slug,
        issue=sent.issue_id,
        work_item=work_item_id,
        new=new,
    )
    project = project or form.project
    web = paths.work_item_web_url(request.integration.base_url, project, work_item_id)
    return Reply(200, linked(web, project, str(work_item_id)))


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


def _create(
    client: AzureDevOpsClient,
    request: UiRequest,
    creation: Creation,
    form: CreateForm,
    title: str,
    description: str,
    web_url: str | None,
) -> tuple[int, str]:
    operations = [set_field(FIELD_TITLE, title), set_field(FIELD_DESCRIPTION, description)]
    if form.area_path:
        operations.append(set_field(FIELD_AREA_PATH, form.area_path))
    if form.tags:
        operations.append(set_field(FIELD_TAGS, "; ".join(form.tags)))
    if form.assignee:
        operations.append(set_field(FIELD_ASSIGNED_TO, form.assignee))
    if web_url:
        operations.append(add_hyperlink(web_url, HYPERLINK_COMMENT))
    creations = Creations(request.storage)
    try:
        item = client.create_work_item(form.project, form.work_item_type, operations)
    except ApiNotFound:
        creations.abandon(request.integration.id, creation)
        raise Rejected(
            400,
            f"{PROJECT} / {WORK_ITEM_TYPE}: Azure DevOps has no work item type "
            f"{form.work_item_type!r} in project {form.project!r}",
        ) from None
    except ApiRejected as exc:
        creations.abandon(request.integration.id, creation)
        said = exc.remote_message or exc.detail
        raise Rejected(400, f"Azure DevOps refused the work item: {said}") from None
    except (ApiAuthError, ApiThrottled):
        creations.abandon(request.integration.id, creation)  # not executed: safe to try again
        raise
    except ApiError:
        raise  # timed out or failed on the way back: it may exist; the intent finds it later
    project = str(item.fields.get(FIELD_TEAM_PROJECT) or form.project)
    creations.done(request.integration.id, creation, item.id, project)
    return item.id, project


def _find_earlier(
    client: AzureDevOpsClient,
    form: CreateForm,
    title: str,
    web_url: str | None,
    creation: Creation,
) -> int | None:
    """The work item an earlier attempt created without recording it, if there is one."""
    if not web_url:
        return None
    since = creation.created_at.date().isoformat()
    for candidate in client.work_items_titled(form.project, title, since):
        if client.work_item(candidate, relations=True).has_hyperlink(web_url):
            return candidate
    return None


def _age(creation: Creation) -> float:
    return (datetime.now(UTC) - creation.created_at).total_seconds()
