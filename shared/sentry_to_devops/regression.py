"""A regression: Sentry reopened a resolved issue by itself (substatus ``regressed``; Sentry
sends no webhook for it, so the sweep finds it), while its work item is done. The integration's
**regression policy** for the project and type decides (``store.sync_settings``):

* ``reopen``: the work item moves to its unresolve state (as an unresolve in Sentry would);
* ``comment``: one "occurred again" comment, with the issue's link and counts;
* ``new``: a new work item with the old one's title, area and iteration and a Related link to
  it, linked to the Sentry issue instead of the old one (which stays done);
* ``off``: nothing but an audit row.

Each happens once per regression of a done revision of the work item, however often it is seen
(an intent keyed by the issue, the work item and its revision is recorded first). The alert
rule's own "occurred again" comment is only made when the policy is ``off``, so one regression
never gets both.
"""

from __future__ import annotations

import hashlib
import html

from shared.azure_devops import paths
from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import (
    FIELD_AREA_PATH,
    FIELD_DESCRIPTION,
    FIELD_ITERATION_PATH,
    FIELD_STATE,
    FIELD_TEAM_PROJECT,
    FIELD_TITLE,
    FIELD_WORK_ITEM_TYPE,
    RELATED,
)
from shared.azure_devops.shapes import WorkItem, add_hyperlink, set_field
from shared.errors import AlreadyExists, NotFound
from shared.http import ApiAuthError, ApiError, ApiNotFound, ApiRejected
from shared.issue_links import external
from shared.issue_links.once import Plan, create_once
from shared.sentry.shapes import SentryIssue
from shared.store.creations import Creations
from shared.store.links import Links
from shared.store.records import Integration, Link, SentryOrg
from shared.store.storage import Storage
from shared.store.sync_settings import COMMENT, NEW, regression_policy
from shared.validation import web_link

HYPERLINK_COMMENT = "Sentry issue"


def policy_for(integration: Integration, item: WorkItem) -> str:
    return regression_policy(
        integration.sync,
        integration.resolve_states,
        str(item.fields.get(FIELD_TEAM_PROJECT) or ""),
        None,
        str(item.fields.get(FIELD_WORK_ITEM_TYPE) or ""),
    )


def _key(kind: str, issue: SentryIssue, item: WorkItem) -> str:
    text = f"regression\x1f{kind}\x1f{issue.id}\x1f{item.id}\x1f{item.rev}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def comment_html(issue: SentryIssue, state: str) -> str:
    link = web_link(issue.permalink)
    name = html.escape(issue.short_id or f"issue {issue.id}")
    shown = f'<a href="{html.escape(link, quote=True)}">{name}</a>' if link else name
    counts = []
    if issue.count:
        counts.append(f"{html.escape(issue.count)} events in all")
    if issue.last_seen:
        counts.append(f"last seen {html.escape(issue.last_seen)}")
    more = f" ({', '.join(counts)})" if counts else ""
    return (
        f"<p>Occurred again: Sentry reopened {shown} by itself (a regression){more} after "
        f"this work item was done ({html.escape(state)}).</p>"
    )


def comment_once(
    storage: Storage,
    client: AzureDevOpsClient,
    integration: Integration,
    org: SentryOrg,
    issue: SentryIssue,
    item: WorkItem,
) -> bool:
    """The "occurred again" comment, once per regression of this done revision; False if it
    was made before."""
    creations = Creations(storage)
    intent, new = creations.begin(integration.id, org.slug, issue.id, _key(COMMENT, issue, item))
    if not new and (intent.work_item_id is not None or not intent.ended):
        return False
    project = str(item.fields.get(FIELD_TEAM_PROJECT) or "")
    state = str(item.fields.get(FIELD_STATE) or "")
    try:
        client.add_comment(project, item.id, comment_html(issue, state))
    except (ApiRejected, ApiNotFound, ApiAuthError):
        creations.abandon(integration.id, intent)  # surely not added: a retry may add it
        raise
    except ApiError:
        creations.ended(integration.id, intent)  # may have been added
        raise
    creations.done(integration.id, intent, item.id, project)
    return True


def new_work_item(
    storage: Storage,
    client: AzureDevOpsClient,
    integration: Integration,
    org: SentryOrg,
    issue: SentryIssue,
    item: WorkItem,
    link: Link,
) -> int:
    """A new work item for the regression, once; the Sentry issue is linked to it instead of
    the done one. Returns the new work item's id."""
    fields = item.fields
    project = str(fields.get(FIELD_TEAM_PROJECT) or "")
    title = str(fields.get(FIELD_TITLE) or issue.title or f"Sentry issue {issue.id}")
    web_url = web_link(issue.permalink)
    operations = [
        set_field(FIELD_TITLE, title),
        set_field(FIELD_DESCRIPTION, comment_html(issue, str(fields.get(FIELD_STATE) or ""))),
        {
            "op": "add",
            "path": "/relations/-",
            "value": {
                "rel": RELATED,
                "url": f"{integration.base_url}{paths.work_item(item.id)}",
                "attributes": {"comment": "the work item this issue regressed from"},
            },
        },
    ]
    for name in (FIELD_AREA_PATH, FIELD_ITERATION_PATH):
        if fields.get(name):
            operations.append(set_field(name, fields[name]))
    if web_url:
        operations.append(add_hyperlink(web_url, HYPERLINK_COMMENT))
    created = create_once(
        storage,
        client,
        integration.id,
        (org.slug, issue.id, _key(NEW, issue, item)),
        Plan(
            project,
            str(fields.get(FIELD_WORK_ITEM_TYPE) or ""),
            title,
            web_url,
            operations,
        ),
    )
    links = Links(storage)
    try:
        new_link = links.add(integration.id, created.work_item_id, org.slug, issue.id)
    except AlreadyExists:
        new_link = links.issue_side(integration.id, created.work_item_id, org.slug, issue.id)
    if new_link is not None and not new_link.external_issue_id:
        external.register(storage, integration, new_link)
    try:
        links.remove(integration.id, link.work_item_id, link.sentry_org, link.issue_id)
    except NotFound:
        pass  # removed by an earlier attempt
    return created.work_item_id

