"""Options of the issue-link form's select fields, from Azure DevOps: work items (search),
projects, the project's work item types, area and iteration paths, and the allowed values of
the chosen type's priority and severity. Lists that change rarely (and the type's fields) are
cached in the process for ``CACHE_SECONDS``, as a person opening the form asks for all of
them. Where the form remembers a choice for the Sentry project (``store.form_defaults``), that
option says ``default``."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import FIELD_PRIORITY, FIELD_SEVERITY
from shared.azure_devops.shapes import TypeField
from shared.clients import INTERACTIVE, azure_devops_client
from shared.doors import Rejected, Reply
from shared.http import ApiNotFound
from shared.issue_links.form import PROJECT, WORK_ITEM_TYPE
from shared.issue_links.once import missing_target
from shared.issue_links.type_fields import allowed_options
from shared.messages.ui_request import UiRequest
from shared.search.request import DEFAULT_LIMIT, MAX_QUERY_LENGTH
from shared.search.work_items import search
from shared.sentry.components import option
from shared.shapes import MAX_NAME_LENGTH, check_path_name
from shared.store.form_defaults import FormDefaults, Remembered
from shared.store.records import Integration

# Sentry project slugs: lower-case letters, digits, - and _ (anything else: no defaults).
_PROJECT_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")

CACHE_SECONDS = 60.0
_lock = threading.Lock()
_cache: dict[tuple[str, str, str], tuple[float, Any]] = {}
T = TypeVar("T")


def _cached(key: tuple[str, str, str], read: Callable[[], T]) -> T:
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
    return _name(request, PROJECT)


def _name(request: UiRequest, field: str) -> str | None:
    """A name the select depends on (``dependentData``), checked; None until one is chosen."""
    value = request.query.dependent_data.get(field)
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    if len(value) > MAX_NAME_LENGTH:
        raise Rejected(400, f"{field} is longer than {MAX_NAME_LENGTH} characters")
    try:
        return check_path_name(value)
    except ValueError as exc:
        raise Rejected(400, f"{field} {exc}") from None


def work_items(request: UiRequest) -> Reply:
    text = " ".join((request.query.query or "").split())[:MAX_QUERY_LENGTH]
    if not text:
        return Reply(200, [])
    return Reply(200, search(request.integration, text, None, DEFAULT_LIMIT))


def _remembered(request: UiRequest) -> Remembered:
    """What the form remembers for the Sentry project the person is in (none for a project
    slug that is not one)."""
    slug = request.query.project_slug
    if not slug or not _PROJECT_SLUG.match(slug):
        return Remembered()
    return FormDefaults(request.storage).read(request.integration.id, request.org.slug, slug)


def _options(names: list[str], default: str | None) -> Reply:
    wanted = default.casefold() if default else None
    return Reply(200, [option(n, n, default=n.casefold() == wanted) for n in names])


def projects(request: UiRequest) -> Reply:
    client = azure_devops_client(request.integration, INTERACTIVE)
    names = _cached(
        (request.integration.id, "projects", ""),
        lambda: sorted((p.name for p in client.projects()), key=str.casefold),
    )
    return _options(names, _remembered(request).project)


def work_item_types(request: UiRequest) -> Reply:
    def enabled(client: AzureDevOpsClient, project: str) -> list[str]:
        return [t.name for t in client.work_item_types(project) if not t.is_disabled]

    return _per_project(request, "types", enabled, lambda r: r.work_item_type)


def area_paths(request: UiRequest) -> Reply:
    return _per_project(
        request, "areas", lambda client, project: client.area_paths(project), lambda r: r.area_path
    )


def iteration_paths(request: UiRequest) -> Reply:
    return _per_project(
        request,
        "iterations",
        lambda client, project: client.iteration_paths(project),
        lambda r: r.iteration_path,
    )


def priorities(request: UiRequest) -> Reply:
    return _allowed_values(request, FIELD_PRIORITY)


def severities(request: UiRequest) -> Reply:
    return _allowed_values(request, FIELD_SEVERITY)


def _per_project(
    request: UiRequest,
    kind: str,
    read: Callable[[AzureDevOpsClient, str], list[str]],
    remembered: Callable[[Remembered], str | None],
) -> Reply:
    """Options that depend on the chosen project (none until one is chosen); the remembered
    choice is offered when it was made in that project."""
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
    choices = _remembered(request)
    same = (choices.project or "").casefold() == project.casefold()
    return _options(names, remembered(choices) if same else None)


def _allowed_values(request: UiRequest, reference_name: str) -> Reply:
    """The allowed values of one field of the chosen type (none: no type chosen yet, or the
    type has no such field)."""
    project = _project(request)
    kind = _name(request, WORK_ITEM_TYPE)
    if project is None or kind is None:
        return Reply(200, [])
    client = azure_devops_client(request.integration, INTERACTIVE)
    fields = type_fields(request.integration, client, project, kind)
    return Reply(200, [option(v, v) for v in allowed_options(fields, reference_name)])


def type_fields(
    integration: Integration, client: AzureDevOpsClient, project: str, work_item_type: str
) -> list[TypeField]:
    """The type's fields (cached), for the form's selects and for checking what it asks;
    read with the caller's client (a person waiting, or a queue function)."""
    key = (integration.id, "fields", f"{project}\n{work_item_type}".casefold())
    try:
        return _cached(key, lambda: client.work_item_type_fields(project, work_item_type))
    except ApiNotFound as exc:
        raise Rejected(400, missing_target(exc, project[:100], work_item_type[:100])) from None
