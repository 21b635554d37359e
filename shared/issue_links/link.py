"""issue-link ``link``: link the Sentry issue to an existing work item."""

from __future__ import annotations

import contextvars
import hashlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from shared.azure_devops import paths
from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import FIELD_TEAM_PROJECT
from shared.azure_devops.shapes import add_hyperlink
from shared.clients import INTERACTIVE, azure_devops_client
from shared.doors import Rejected, Reply
from shared.errors import AlreadyExists, SyncError
from shared.http import ApiAuthError, ApiError, ApiNotFound, ApiRejected
from shared.issue_links import external
from shared.issue_links.form import WORK_ITEM, comment_html, read_link
from shared.log import log_event
from shared.messages.ui_request import UiRequest
from shared.sentry.components import linked
from shared.store.creations import Creations
from shared.store.links import Links

HYPERLINK_COMMENT = "Sentry issue"


def link(request: UiRequest) -> Reply:
    form, sent = read_link(request.form.fields), request.form
    client = azure_devops_client(request.integration, INTERACTIVE)
    try:
        item = client.work_item(form.work_item_id, relations=True)
    except ApiNotFound:
        raise Rejected(
            400, f"{WORK_ITEM}: work item {form.work_item_id} does not exist (or is not visible)"
        ) from None
    project = str(item.fields.get(FIELD_TEAM_PROJECT) or "")
    store_link(request, item.id)
    # The Hyperlink and the comment do not depend on each other: sent side by side, so a
    # slow Azure DevOps costs the person two round trips, not three.
    steps: list[Callable[[], None]] = []
    if sent.web_url and not item.has_hyperlink(sent.web_url):
        steps.append(lambda: add_link_back(client, item.id, sent.web_url or ""))
    if form.comment:
        comment = form.comment
        steps.append(lambda: comment_once(request, client, project, item.id, comment))
    _side_by_side(steps)
    log_event(
        "issue_link.linked",
        integration=request.integration.id,
        sentry_org=request.org.slug,
        issue=sent.issue_id,
        work_item=item.id,
    )
    web_url = paths.work_item_web_url(request.integration.base_url, project, item.id)
    return Reply(200, linked(web_url, project, str(item.id)))


def _side_by_side(steps: list[Callable[[], None]]) -> None:
    """Run ``steps`` at once (each in the caller's context, so its deadline holds); the first
    failure is raised once all have ended."""
    if len(steps) < 2:
        for step in steps:
            step()
        return
    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        futures = [pool.submit(contextvars.copy_context().run, step) for step in steps]
    for future in futures:
        future.result()


def comment_once(
    request: UiRequest, client: AzureDevOpsClient, project: str, work_item_id: int, text: str
) -> None:
    """The form's comment, once per (issue, work item, text): the same form sent again (a
    retry after Sentry's request timed out) adds nothing. The intent is recorded first; an
    attempt that ended without an answer may have added it, so the next one adds it again
    only after ``PATIENCE_SECONDS`` (a duplicate is better than a lost comment)."""
    digest = hashlib.sha256(f"link-comment\x1f{work_item_id}\x1f{text}".encode()).hexdigest()
    creations = Creations(request.storage)
    key = (request.integration.id, request.org.slug, request.form.issue_id, digest[:32])
    intent, new = creations.begin(*key)
    if not new and (intent.work_item_id is not None or not intent.ended):
        log_event("issue_link.comment_known", work_item=work_item_id)
        return
    actor = request.form.actor.name if request.form.actor else None
    try:
        client.add_comment(
            project, work_item_id, comment_html(text, actor, request.form.web_url)
        )
    except (ApiRejected, ApiNotFound, ApiAuthError):
        creations.abandon(request.integration.id, intent)  # surely not added: may retry
        raise
    except ApiError:
        creations.ended(request.integration.id, intent)
        raise
    creations.done(request.integration.id, intent, work_item_id, project)


def store_link(request: UiRequest, work_item_id: int) -> None:
    """The link, if it is not there yet (Sentry's form may be sent again), registered as the
    installation's external issue so that ``link remove`` can take it off the Sentry issue.
    Sentry shows the link from our answer anyway, so a failed registration is only logged."""
    links = Links(request.storage)
    slug, issue_id = request.org.slug, request.form.issue_id
    try:
        stored = links.add(request.integration.id, work_item_id, slug, issue_id)
    except AlreadyExists:
        stored = links.issue_side(request.integration.id, work_item_id, slug, issue_id)
    if stored is None or stored.external_issue_id:
        return
    try:
        external.register(request.storage, request.integration, stored)
    except (ApiError, SyncError) as exc:
        log_event(
            "issue_link.register_failed",
            logging.WARNING,
            work_item=work_item_id,
            error=type(exc).__name__,
        )


def add_link_back(client: AzureDevOpsClient, work_item_id: int, web_url: str) -> None:
    """A Hyperlink relation from the work item to the Sentry issue; a refusal (the relation
    appeared meanwhile, a process that forbids links) is logged, not fatal: the link is made."""
    try:
        client.update_work_item(work_item_id, [add_hyperlink(web_url, HYPERLINK_COMMENT)])
    except ApiRejected as exc:
        log_event(
            "issue_link.hyperlink_refused",
            logging.WARNING,
            work_item=work_item_id,
            reason=exc.remote_message or exc.detail,
        )
