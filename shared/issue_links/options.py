"""Options of the issue-link form's select fields, from Azure DevOps: work items (search),
projects, the project's work item types and area paths. Lists that change rarely are cached
in the process for ``CACHE_SECONDS``, as a person opening the form asks for all of them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from shared.azure_devops.client import AzureDevOpsClient
from shared.clients import INTERACTIVE, azure_devops_client
from shared.doors import Rejected, Reply
from shared.http import ApiNotFound
from shared.issue_links.form import PROJECT
from shared.messages.ui_request import UiRequest
from shared.search.request import DEFAULT_LIMIT, MAX_QUERY_LENGTH
from shared.search.work_items import search
from shared.sentry.components import option
from shared.shapes import MAX_NAME_LENGTH, check_path_name

CACHE_SECONDS = 60.0
_lock = threading.Lock()
_cache: dict[tuple[str, str, str], tuple[float, list[str]]] = {}


def _cached(key: tuple[str, str, str], read: Callable[[], list[str]]) -> list[str]:
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    values = read()
    with _lock:
        if len(_cache) > 1000:
            _cache.clear()
        _cache[key] = (time.monotonic() + CACHE_SECONDS, values)
    return values


def forget_cached_options() -> None:
    with _lock:
        _cache.clear()


def _project(request: UiRequest) -> str | None:
    value = request.query.dependent_data.get(PROJECT)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise Rejected(400, f"{PROJECT} is longer than {MAX_NAME_LENGTH} characters")
    try:
        return check_path_name(value)
    except ValueError as exc:
        raise Rejected(400, f"{PROJECT} {exc}") from None


def work_items(request: UiRequest) -> Reply:
    text = " ".join((request.query.query or "").split())[:MAX_QUERY_LENGTH]
    if not text:
        return Reply(200, [])
    return Reply(200, search(request.integration, text, None, DEFAULT_LIMIT))


def projects(request: UiRequest) -> Reply:
    client = azure_devops_client(request.integration, INTERACTIVE)
    names = _cached(
        (request.integration.id, "projects", ""),
        lambda: sorted((p.name for p in client.projects()), key=str.casefold),
    )
    return Reply(200, [option(name, name) for name in names])


def work_item_types(request: UiRequest) -> Reply:
    def enabled(client: AzureDevOpsClient, project: str) -> list[str]:
        return [t.name for t in client.work_item_types(project) if not t.is_disabled]

    return _per_project(request, "types", enabled)


def area_paths(request: UiRequest) -> Reply:
    return _per_project(request, "areas", lambda client, project: client.area_paths(project))


def _per_project(
    request: UiRequest, kind: str, read: Callable[[AzureDevOpsClient, str], list[str]]
) -> Reply:
    """Options that depend on the chosen project (none until one is chosen)."""
    project = _project(request)
    if project is None:
        return Reply(200, [])
    client = azure_devops_client(request.integration, INTERACTIVE)
    try:
        names = _cached(
            (request.integration.id, kind, project.casefold()), lambda: read(client, project)
        )
    except ApiNotFound:
        # Sentry shows the message next to the form: the person picked a project that is
        # gone (or typed one): that is their input, not an Azure DevOps failure.
        raise Rejected(400, f"{PROJECT}: Azure DevOps has no project {project[:100]!r}") from None
    return Reply(200, [option(name, name) for name in names])
