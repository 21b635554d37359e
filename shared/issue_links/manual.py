"""``link add`` (the admin CLI): link a work item to a Sentry issue by their ids.

Both sides are read before anything is stored, so a mistyped id is refused with a message that
names it, instead of leaving a link that no run can ever settle. Then the link is stored and
shown in Sentry's sidebar (``external.register``); if that last step fails, running the
command again registers the link stored the first time."""

from __future__ import annotations

from typing import Any

from shared.clients import azure_devops_client, sentry_client
from shared.errors import AlreadyExists, NotFound, SyncError
from shared.http import ApiError, ApiNotFound
from shared.issue_links import external
from shared.store.links import Links
from shared.store.records import Integration
from shared.store.storage import Storage
from shared.validation import check_issue_id, check_slug, check_work_item_id


def add_link(
    storage: Storage, integration: Integration, work_item: str | int, slug: str, issue: str
) -> dict[str, Any]:
    """Store and show the link; returns it as operators see it."""
    work_item_id, slug, issue_id = (
        check_work_item_id(work_item),
        check_slug(slug),
        check_issue_id(issue),
    )
    org = integration.sentry_org(slug)
    if org is None:
        raise NotFound(f"integration {integration.id} has no Sentry organization {slug}")
    links = Links(storage)
    existing = links.issue_side(integration.id, work_item_id, slug, issue_id)
    if existing is None:
        _check_both_sides(integration, work_item_id, slug, issue_id)
        link = links.add(integration.id, work_item_id, slug, issue_id)
    else:
        registrable = org.installation_uuid and not org.uninstalled
        if existing.external_issue_id or not registrable:
            raise AlreadyExists(
                f"work item {work_item_id} is already linked to {slug} issue {issue_id}"
            )
        link = existing  # stored by an earlier run whose registration failed
    try:
        external_id = external.register(storage, integration, link)
    except ApiError as exc:
        raise SyncError(
            f"link stored, but showing it in the Sentry issue failed ({exc}); "
            "run the command again to retry"
        ) from None
    shown = link.to_public()
    if external_id:
        shown["externalIssueId"] = external_id
    return shown


def _check_both_sides(
    integration: Integration, work_item_id: int, slug: str, issue_id: str
) -> None:
    org = integration.sentry_org(slug)
    assert org is not None
    try:
        title = azure_devops_client(integration).work_item_title(work_item_id)
    except ApiError as exc:
        raise SyncError(
            f"could not read work item {work_item_id} ({exc}); nothing stored"
        ) from None
    if title is None:
        raise NotFound(
            f"work item {work_item_id} does not exist in {integration.base_url} (or the PAT "
            "cannot read it); nothing stored"
        )
    try:
        sentry_client(org).get_issue(slug, issue_id)
    except ApiNotFound:
        raise NotFound(
            f"Sentry issue {issue_id} does not exist in organization {slug} (or its token "
            "cannot read it); nothing stored"
        ) from None
    except ApiError as exc:
        raise SyncError(f"could not read {slug} issue {issue_id} ({exc}); nothing stored") from None
