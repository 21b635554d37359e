"""Find Azure DevOps work items to link, as ``[{"label", "value"}]``.

``123`` or ``#123`` is first looked up exactly; the text then goes to Azure DevOps work item
search, or to a WIQL title search when search cannot answer (no Search extension on Azure
DevOps Server, or an index that is not ready). The answer is the shape Sentry's select fields
take: string values, no duplicates, the exact-ID hit first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from shared.clients import INTERACTIVE, azure_devops_client, azure_devops_search_client
from shared.credentials import token_from_setting
from shared.doors import Rejected, Reply, answer
from shared.errors import IntegrationNotFound, InvalidInput
from shared.http import ApiNotFound
from shared.log import log_event
from shared.search.request import read_request
from shared.sentry.signatures import APP_SIGNATURE_HEADER, app_signature_matches
from shared.store.integrations import Integrations
from shared.store.records import Integration
from shared.store.storage import Storage, get_storage
from shared.validation import check_integration_id

_ID_QUERY = re.compile(r"^#?\s*([0-9]{1,10})$")


def handle_search(
    integration_id: str | None,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    storage: Storage | None = None,
) -> Reply:
    """Answer one search request (errors become statuses in ``doors.HTTP_ERRORS``)."""
    lowered = {key.lower(): value for key, value in headers.items()}

    def work() -> Reply:
        request = read_request(params)
        integration = _integration(integration_id, storage)
        _check_signature(integration, params.get("installationId"), lowered)
        return Reply(200, search(integration, request.text, request.project, request.limit))

    return answer("search", work)


def _integration(integration_id: str | None, storage: Storage | None) -> Integration:
    try:
        checked = check_integration_id(integration_id or "")
    except InvalidInput:
        raise IntegrationNotFound(str(integration_id)) from None
    return Integrations(storage or get_storage()).get(checked, with_orgs=True)


def _check_signature(
    integration: Integration, installation_id: str | None, headers: Mapping[str, str]
) -> None:
    """Sentry signs select-field requests with HMAC-SHA256 of an empty body, made with the
    client secret of the installation it names (``installationId``)."""
    setting = integration.sentry_app_secret_setting
    if installation_id:
        wanted = installation_id.strip().lower()
        org = next(
            (o for o in integration.sentry_orgs if o.installation_uuid == wanted), None
        )
        if org is None or not org.client_secret_setting:
            raise Rejected(401, "unknown installationId, or no client secret configured for it")
        setting = org.client_secret_setting
    if not setting:
        return  # the function key guards the endpoint
    secret = token_from_setting(setting)
    if not app_signature_matches(secret, b"", headers.get(APP_SIGNATURE_HEADER)):
        raise Rejected(401, "missing or wrong Sentry-App-Signature")


def search(
    integration: Integration, text: str, project: str | None, limit: int
) -> list[dict[str, str]]:
    found: dict[int, str] = {}
    id_match = _ID_QUERY.match(text)
    if id_match:
        item_id = int(id_match[1])
        title = azure_devops_client(integration, INTERACTIVE).work_item_title(item_id, project)
        if title is not None:
            found[item_id] = title
    terms = id_match[1] if id_match else text
    for item_id, title in _text_search(integration, terms, project, limit):
        if len(found) >= limit:
            break
        found.setdefault(item_id, title)
    return [
        {"label": f"({item_id}) {title}", "value": str(item_id)} for item_id, title in found.items()
    ]


def _text_search(
    integration: Integration, text: str, project: str | None, limit: int
) -> list[tuple[int, str]]:
    try:
        outcome = azure_devops_search_client(integration).search_work_items(text, project, limit)
        if outcome.index_ready:
            return outcome.hits
        reason = "index not ready"
    except ApiNotFound:
        reason = "search not available"
    log_event("search.fallback_to_wiql", integration=integration.id, reason=reason)
    client = azure_devops_client(integration, INTERACTIVE)
    ids = client.search_titles_with_wiql(text, project, limit)
    titles = client.titles(ids)
    return [(item_id, titles[item_id]) for item_id in ids if item_id in titles]
