"""An integration's sync settings (stored on its ``integration`` row): which of the five
directions are on, and the states a Sentry resolve and unresolve move a work item into; and
how a mapping for a project and type is picked (also for done-states)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar


@dataclass(frozen=True)
class ResolveStates:
    """Explicit states for a project (name or id) and work item type (``*`` = any) that a
    Sentry resolve and unresolve move a work item into (None: the rule on categories)."""

    project: str
    work_item_type: str
    on_resolve: str | None = None
    on_unresolve: str | None = None

    def to_public(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "type": self.work_item_type,
            "onResolve": self.on_resolve,
            "onUnresolve": self.on_unresolve,
        }


class _Mapping(Protocol):
    project: str
    work_item_type: str


M = TypeVar("M", bound=_Mapping)


def most_specific(
    mappings: Iterable[M], project: str | None, project_id: str | None, work_item_type: str
) -> M | None:
    """The mapping for a project and type: exact project and type first, then project with
    any type, any project with the type, and ``*``/``*`` last (names compared case-blind)."""
    names = {p.casefold() for p in (project, project_id) if p}
    kind = work_item_type.casefold()
    candidates = list(mappings)
    for want_project, want_type in ((True, True), (True, False), (False, True), (False, False)):
        for mapping in candidates:
            project_ok = (
                mapping.project.casefold() in names if want_project else mapping.project == "*"
            )
            type_ok = (
                mapping.work_item_type.casefold() == kind
                if want_type
                else mapping.work_item_type == "*"
            )
            if project_ok and type_ok:
                return mapping
    return None


# The five sync settings (as Sentry's own integration has them), and their defaults: the
# Azure DevOps -> Sentry direction is on, the other direction and comments are opt-in.
SYNC_SETTINGS = {
    "status-to-sentry": True,
    "assignee-to-sentry": True,
    "status-to-devops": False,
    "assignee-to-devops": False,
    "comments": False,
}


@dataclass(frozen=True)
class SyncOptions:
    values: tuple[tuple[str, bool], ...] = tuple(SYNC_SETTINGS.items())

    def on(self, name: str) -> bool:
        return dict(self.values).get(name, SYNC_SETTINGS[name])

    @property
    def status_to_sentry(self) -> bool:
        return self.on("status-to-sentry")

    @property
    def assignee_to_sentry(self) -> bool:
        return self.on("assignee-to-sentry")

    @property
    def status_to_devops(self) -> bool:
        return self.on("status-to-devops")

    @property
    def assignee_to_devops(self) -> bool:
        return self.on("assignee-to-devops")

    @property
    def comments(self) -> bool:
        return self.on("comments")

    def to_public(self) -> dict[str, bool]:
        return {name: self.on(name) for name in SYNC_SETTINGS}

    @classmethod
    def from_json(cls, text: str | None) -> SyncOptions:
        stored = json.loads(text) if text else {}
        return cls(tuple((name, bool(stored.get(name, d))) for name, d in SYNC_SETTINGS.items()))
