"""SearchIssues: find Azure DevOps work items to link, as ``[{"label", "value"}]``.

``123`` or ``#123`` is first looked up exactly; the text then goes to Azure DevOps work item
search, or to a WIQL title search when search cannot answer (no Search extension on Azure
DevOps Server, or an index that is not ready). The answer is the shape Sentry's select fields
take: string values, no duplicates, the exact-ID hit first.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
from collections.abc import Mapping

from shared.clients import INTERACTIVE, azure_devops_client, azure_devops_search_client
from shared.credentials import token_from_setting
from shared.errors import (
    ConfigurationError,
    IntegrationNotFound,
    IntegrationRemoved,
    InvalidInput,
    StorageUnavailable,
)
from shared.http import ApiAuthError, ApiError, ApiNotFound, ApiThrottled, ApiTimeout
from shared.log import log_event
from shared.payloads import MAX_NAME_LENGTH, check_path_name
from shared.registry import Integration, Registry, check_integration_id
from shared.replies import Reply, error
from shared.storage import Storage, get_storage

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY_LENGTH = 256
SIGNATURE_HEADER = "sentry-app-signature"
_ASCII_NUMBER = re.compile(r"^[0-9]{1,9}$")
_ID_QUERY = re.compile(r"^#?\s*([0-9]{1,10})$")


def handle_search(
    integration_id: str | None,
    params: Mapping[str, str],
    headers: Mapping[str, str],
    storage: Storage | None = None,
) -> Reply:
    """Answer one search request. The single place where search errors become statuses."""
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        text, project, limit = _read_params(params)
        integration = _integration(integration_id, storage)
        _check_signature(integration, lowered)
        return Reply(200, search(integration, text, project, limit))
    except InvalidInput as exc:
        return error(400, str(exc))
    except (IntegrationNotFound, IntegrationRemoved):
        return error(404, "unknown integration")
    except _Unauthorized as exc:
        return error(401, str(exc))
    except ApiAuthError:
        return error(502, "Azure DevOps rejected the integration's credentials (check the PAT)")
    except ApiThrottled as exc:
        wait = max(1, math.ceil(exc.retry_after or 30))
        return error(503, "Azure DevOps is throttling requests", {"Retry-After": str(wait)})
    except ApiTimeout:
        return error(504, "Azure DevOps did not answer in time")
    except ApiError as exc:
        log_event("search.azure_devops_failed", logging.WARNING, error=type(exc).__name__)
        return error(502, f"Azure DevOps request failed ({exc.status or 'no answer'})")
    except (StorageUnavailable, ConfigurationError) as exc:
        log_event("search.unavailable", logging.ERROR, error=type(exc).__name__, detail=str(exc))
        return error(503, "the search service is not available; retry later", {"Retry-After": "30"})
    except Exception as exc:  # noqa: BLE001 - last guard: a bug must not become a 500
        log_event("search.failed", logging.ERROR, error=type(exc).__name__)
        return error(503, "the search could not be completed; retry later", {"Retry-After": "30"})


class _Unauthorized(Exception):
    pass


def _read_params(params: Mapping[str, str]) -> tuple[str, str | None, int]:
    text = " ".join((params.get("query") or "").split())
    if not text:
        raise InvalidInput("query is required (the text or id to search for)")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"query is longer than {MAX_QUERY_LENGTH} characters")
    project = (params.get("project") or "").strip() or None
    if project is not None:
        try:
            check_path_name(project)
        except ValueError:
            raise InvalidInput("project must be a project name or id") from None
        if len(project) > MAX_NAME_LENGTH or any(c in project for c in "/\\#?"):
            raise InvalidInput("project must be a project name or id")
    raw_limit = (params.get("limit") or "").strip()
    if not raw_limit:
        return text, project, DEFAULT_LIMIT
    if not _ASCII_NUMBER.match(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a number from 1 to {MAX_LIMIT}")
    return text, project, int(raw_limit)


def _integration(integration_id: str | None, storage: Storage | None) -> Integration:
    try:
        checked = check_integration_id(integration_id or "")
    except InvalidInput:
        raise IntegrationNotFound(str(integration_id)) from None
    return Registry(storage or get_storage()).get_integration(checked)


def _check_signature(integration: Integration, headers: Mapping[str, str]) -> None:
    """Sentry signs select-field requests with HMAC-SHA256 of an empty body."""
    if not integration.sentry_app_secret_setting:
        return  # the function key guards the endpoint
    secret = token_from_setting(integration.sentry_app_secret_setting)
    expected = hmac.new(secret.encode(), b"", hashlib.sha256).hexdigest()
    offered = headers.get(SIGNATURE_HEADER, "")
    if not hmac.compare_digest(offered.strip().encode(), expected.encode()):
        raise _Unauthorized("missing or wrong Sentry-App-Signature")


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
