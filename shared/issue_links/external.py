"""Links made outside Sentry's form (the CLI, alert rules) shown in the issue's sidebar:
registered as the installation's external issues, and deleted there when the link goes.

Sentry keeps **one** external issue per issue and app: registering updates it in place
(``PlatformExternalIssue`` is unique on group and service type, and its creator calls
``update_or_create`` on them; src/sentry/sentry_apps/models/platformexternalissue.py,
external_issues/external_issue_creator.py). So an issue linked to several work items shows
the one registered last, and removing one link shows another that remains, rather than
deleting what every link of the issue shares."""

from __future__ import annotations

from shared.azure_devops import paths
from shared.azure_devops.fields import FIELD_TEAM_PROJECT
from shared.clients import azure_devops_client, sentry_client
from shared.http import ApiNotFound
from shared.store.links import Links
from shared.store.records import Integration, Link
from shared.store.storage import Storage


def register(storage: Storage, integration: Integration, link: Link) -> str | None:
    """Show ``link`` in Sentry; returns the external issue id (None: the organization has no
    installation uuid configured, so there is nothing to register it with)."""
    org = integration.sentry_org(link.sentry_org)
    if org is None or not org.installation_uuid or org.uninstalled:
        return None
    item = azure_devops_client(integration).work_item(link.work_item_id)
    project = str(item.fields.get(FIELD_TEAM_PROJECT) or "")
    web_url = paths.work_item_web_url(integration.base_url, project, item.id)
    external_id = sentry_client(org).register_external_issue(
        org.installation_uuid, link.issue_id, web_url, project, str(item.id)
    )
    Links(storage).set_external_issue(link, external_id)
    return external_id


def unregister(storage: Storage, integration: Integration, link: Link) -> None:
    """Take the link off the issue's sidebar: show another work item still linked to the
    issue, or, with none left, delete the external issue (already gone counts as done)."""
    org = integration.sentry_org(link.sentry_org)
    if org is None or not org.installation_uuid or not link.external_issue_id:
        return
    others = [
        other
        for other in Links(storage).for_issue(integration.id, link.sentry_org, link.issue_id)
        if other.work_item_id != link.work_item_id
    ]
    if others:
        register(storage, integration, others[-1])
        return
    try:
        sentry_client(org).delete_external_issue(org.installation_uuid, link.external_issue_id)
    except ApiNotFound:
        pass
