"""The alert rule action's settings: read (pure) and, when a person saves a rule, checked
against Azure DevOps, so a rule that cannot create work items is never saved."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from shared.clients import INTERACTIVE, azure_devops_client
from shared.doors import Reply
from shared.errors import InvalidInput
from shared.issue_links.create import checked_fields
from shared.issue_links.form import AREA_PATH, PROJECT, WORK_ITEM_TYPE, CreateForm, read_create
from shared.issue_links.schema import TITLE_PREFIX
from shared.messages.ui_request import UiRequest

MAX_PREFIX_LENGTH = 100


@dataclass(frozen=True)
class AlertSettings:
    form: CreateForm  # where and how (no title or description: those come from the alert)
    title_prefix: str | None = None


def as_mapping(settings: Iterable[Any]) -> dict[str, Any]:
    """Sentry's ``[{name, value}]`` as a mapping (the last value of a name wins)."""
    return {item.name: item.value for item in settings}


def read_settings(values: Mapping[str, Any]) -> AlertSettings:
    fields = {k: v for k, v in values.items() if k not in ("title", "description")}
    prefix = values.get(TITLE_PREFIX)
    if prefix is not None and not isinstance(prefix, str):
        raise InvalidInput(f"{TITLE_PREFIX} must be text")
    prefix = (prefix or "").strip() or None
    if prefix is not None and len(prefix) > MAX_PREFIX_LENGTH:
        raise InvalidInput(f"{TITLE_PREFIX} is longer than {MAX_PREFIX_LENGTH} characters")
    return AlertSettings(read_create(fields), prefix)


def check(request: UiRequest) -> Reply:
    """200 if Azure DevOps has the project, the type in it, the area path and the fields the
    settings name; else 400 with ``{"message"}`` naming what is wrong (Sentry shows it and
    refuses to save the rule)."""
    settings = read_settings(as_mapping(request.rule.fields))
    form = settings.form
    client = azure_devops_client(request.integration, INTERACTIVE)
    projects = {p.name.casefold(): p.name for p in client.projects()}
    project = projects.get(form.project.casefold())
    if project is None:
        raise InvalidInput(f"{PROJECT}: Azure DevOps has no project {form.project!r}")
    types = {t.name.casefold() for t in client.work_item_types(project) if not t.is_disabled}
    if form.work_item_type.casefold() not in types:
        raise InvalidInput(
            f"{WORK_ITEM_TYPE}: project {project!r} has no work item type {form.work_item_type!r}"
        )
    if form.area_path is not None:
        areas = {path.casefold() for path in client.area_paths(project)}
        if form.area_path.casefold() not in areas:
            raise InvalidInput(f"{AREA_PATH}: project {project!r} has no area {form.area_path!r}")
    # Iteration, priority, severity and other fields against the type's own fields, and the
    # fields the type requires, so a rule that could not create its work item is not saved.
    checked_fields(request.integration, client, replace(form, project=project))
    return Reply(200, {"status": "ok"})
