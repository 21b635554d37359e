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
    on_regression: str | None = None  # a regression policy for this project and type

    def to_public(self) -> dict[str, Any]:
        shown = {
            "project": self.project,
            "type": self.work_item_type,
            "onResolve": self.on_resolve,
            "onUnresolve": self.on_unresolve,
        }
        if self.on_regression:
            shown["onRegression"] = self.on_regression
        return shown


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
# Azure DevOps -> Sentry direction is on, the other direction and comments are opt-in; and
# failure notes (a change refused for good said where the person made it), opt-in too.
SYNC_SETTINGS = {
    "status-to-sentry": True,
    "assignee-to-sentry": True,
    "status-to-devops": False,
    "assignee-to-devops": False,
    "comments": False,
    "failure-notes": False,
}


# What a regression (Sentry reopens a resolved issue by itself) does to a done work item.
REOPEN, COMMENT, NEW, OFF = "reopen", "comment", "new", "off"
REGRESSION_POLICIES = (REOPEN, COMMENT, NEW, OFF)


@dataclass(frozen=True)
class SyncOptions:
    values: tuple[tuple[str, bool], ...] = tuple(SYNC_SETTINGS.items())
    regression: str | None = None  # None: reopen with status-to-devops on, else comment

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

    @property
    def failure_notes(self) -> bool:
        return self.on("failure-notes")

    def to_public(self) -> dict[str, Any]:
        shown: dict[str, Any] = {name: self.on(name) for name in SYNC_SETTINGS}
        shown["regression"] = self.regression or f"default ({self.default_regression})"
        return shown

    @property
    def default_regression(self) -> str:
        return REOPEN if self.status_to_devops else COMMENT

    def stored(self) -> dict[str, Any]:
        stored: dict[str, Any] = {name: self.on(name) for name in SYNC_SETTINGS}
        if self.regression:
            stored["regression"] = self.regression
        return stored

    @classmethod
    def from_json(cls, text: str | None) -> SyncOptions:
        stored = json.loads(text) if text else {}
        regression = stored.get("regression")
        return cls(
            tuple((name, bool(stored.get(name, d))) for name, d in SYNC_SETTINGS.items()),
            regression if regression in REGRESSION_POLICIES else None,
        )


def regression_policy(
    sync: SyncOptions,
    mappings: Iterable[ResolveStates],
    project: str | None,
    project_id: str | None,
    work_item_type: str,
) -> str:
    """The regression policy for a project and type: the most specific mapping that sets
    one, else the integration's, else reopen (status-to-devops on) or comment (off)."""
    mapping = most_specific(
        [m for m in mappings if m.on_regression], project, project_id, work_item_type
    )
    if mapping is not None and mapping.on_regression:
        return mapping.on_regression
    return sync.regression or sync.default_regression
