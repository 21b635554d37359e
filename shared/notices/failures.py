"""A link's sync refused for good (a state or identity Azure DevOps rejects, a Sentry issue
that is gone, a change Sentry refuses), said where the person who made the change works: a
note on the Sentry issue when the change came from Sentry, a comment on the work item when it
came from Azure DevOps. Opt-in per integration (``integration sync --failure-notes on``); one
notice per link and kind of failure (``store.notices``), never repeated. What the other
service said is quoted as text, escaped for where it goes."""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from shared.azure_devops import paths
from shared.azure_devops.fields import FIELD_TEAM_PROJECT
from shared.clients import azure_devops_client, sentry_client
from shared.content import escape_markdown, strip_controls
from shared.errors import StorageUnavailable
from shared.http import ApiError
from shared.log import log_event
from shared.sentry import paths as sentry_paths
from shared.store.audit import FAILED, KIND_UPKEEP, AuditEntry, AuditLog
from shared.store.notices import Notices
from shared.store.records import Integration, Link
from shared.store.storage import Storage
from shared.validation import web_link

DEVOPS_REFUSED = "devops-refused"  # Azure DevOps refused a change that came from Sentry
SENTRY_REFUSED = "sentry-refused"  # Sentry refused a change that came from Azure DevOps
SENTRY_GONE = "sentry-gone"  # the linked Sentry issue no longer exists
MAX_QUOTED = 300


def _quoted(text: str) -> str:
    text = " ".join(strip_controls(text).split())
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


def tell_sentry(storage: Storage, integration: Integration, link: Link, said: str) -> None:
    """Azure DevOps refused to move the work item as Sentry's change asked."""
    if not integration.sync.failure_notes:
        return
    item = paths.work_item_org_web_url(integration.base_url, link.work_item_id)
    text = (
        f"Azure DevOps refused this change for work item "
        f"[#{link.work_item_id}]({item}): {escape_markdown(_quoted(said))}\n\n"
        "The work item is unchanged. Fix the cause in Azure DevOps (or the sync's state "
        "mapping, `integration resolve-states`), then change the issue again."
    )
    org = integration.sentry_org(link.sentry_org)
    if org is None or org.uninstalled:
        return

    def post() -> None:
        sentry_client(org).add_note(org.slug, link.issue_id, text)

    _once(storage, integration, link, DEVOPS_REFUSED, post)


def tell_devops(
    storage: Storage,
    integration: Integration,
    link: Link,
    kind: str,
    said: str,
    project: str | None = None,
) -> None:
    """Sentry refused the work item's change, or the issue is gone: a comment on the work
    item, where the change was made."""
    if not integration.sync.failure_notes:
        return
    org = integration.sentry_org(link.sentry_org)
    where = html.escape(f"{link.sentry_org} issue {link.issue_id}")
    issue_url = (
        web_link(sentry_paths.issue_web_url(org.base_url, org.slug, link.issue_id))
        if org is not None
        else None
    )
    if issue_url:
        where = f'<a href="{html.escape(issue_url, quote=True)}">{where}</a>'
    if kind == SENTRY_GONE:
        body = (
            f"<p>The linked Sentry issue {where} no longer exists (deleted or merged), so this "
            "work item's changes no longer reach Sentry. Remove the link, or link the issue "
            "it was merged into.</p>"
        )
    else:
        body = (
            f"<p>Sentry refused this work item's change for {where}: "
            f"{html.escape(_quoted(said))}</p><p>The Sentry issue is unchanged; fix the cause "
            "(for example, make the assignee a member of the Sentry organization) and change "
            "the work item again.</p>"
        )

    def post() -> None:
        client = azure_devops_client(integration)
        name = project
        if not name:
            fields = client.work_item(link.work_item_id).fields
            name = str(fields.get(FIELD_TEAM_PROJECT) or "")
        client.add_comment(name, link.work_item_id, body)

    _once(storage, integration, link, kind, post)


def _once(
    storage: Storage, integration: Integration, link: Link, kind: str, post: Callable[[], None]
) -> None:
    notices = Notices(storage)
    try:
        if not notices.claim(integration.id, link, kind):
            return
    except StorageUnavailable as exc:
        log_event("notices.unclaimed", logging.WARNING, error=type(exc).__name__)
        return
    try:
        post()
    except ApiError as exc:
        log_event("notices.not_posted", logging.WARNING, kind=kind, error=type(exc).__name__)
        try:
            notices.release(integration.id, link, kind)
            AuditLog(storage).record(
                integration.id,
                AuditEntry(
                    kind=KIND_UPKEEP,
                    work_item_id=link.work_item_id, rev=0, outcome=FAILED, action="notice",
                    reason=f"the failure notice ({kind}) could not be posted: {exc}",
                    sentry_org=link.sentry_org, issue_id=link.issue_id,
                    error=type(exc).__name__,
                ),
            )  # fmt: skip
        except StorageUnavailable:
            pass  # logged above; the claim runs out with nothing posted, nothing lost
    else:
        log_event("notices.posted", kind=kind, work_item=link.work_item_id)
