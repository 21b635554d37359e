"""The sync rules, as pure functions of data (no I/O): tested exhaustively and by property.

* status: a work item moving from a not-done into a done state resolves its Sentry issues;
  moving from done to not-done reopens them; not-done -> not-done, done -> done and moves into a
  Removed-category state change nothing. An issue that is ignored/archived (or being
  reprocessed or deleted) is left alone, and one already in the target status gets no write.
* assignee: the Sentry member with the work item assignee's email; cleared -> unassign.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

DONE_CATEGORIES = frozenset({"Resolved", "Completed"})
REMOVED_CATEGORY = "Removed"
# Statuses we never touch: people chose them in Sentry, or Sentry is busy with the issue.
LEFT_ALONE = frozenset({"ignored", "archived", "reprocessing", "pending_deletion", "pending_merge"})


@dataclass(frozen=True)
class StateSet:
    """Which states of one work item type count as done, and which as removed."""

    done: frozenset[str]
    removed: frozenset[str] = frozenset()

    @classmethod
    def of(cls, done: Iterable[str], removed: Iterable[str] = ()) -> StateSet:
        return cls(frozenset(s.casefold() for s in done), frozenset(s.casefold() for s in removed))

    @classmethod
    def from_categories(cls, states: Iterable[tuple[str, str | None]]) -> StateSet:
        """From (state name, category) pairs as Azure DevOps reports them."""
        pairs = list(states)
        return cls.of(
            (name for name, category in pairs if category in DONE_CATEGORIES),
            (name for name, category in pairs if category == REMOVED_CATEGORY),
        )

    def is_done(self, state: str | None) -> bool:
        return state is not None and state.casefold() in self.done

    def is_removed(self, state: str | None) -> bool:
        return state is not None and state.casefold() in self.removed


class StatusAction(enum.Enum):
    RESOLVE = "resolve"
    UNRESOLVE = "unresolve"
    NONE = "none"


@dataclass(frozen=True)
class Decision:
    action: StatusAction
    reason: str


def status_action(old_state: str | None, new_state: str | None, states: StateSet) -> Decision:
    """What a work item moving from ``old_state`` to ``new_state`` asks of its Sentry issues.

    ``old_state`` None means the item had no state before (it was just created).
    """
    if new_state is None:
        return Decision(StatusAction.NONE, "state was cleared")
    if states.is_removed(new_state):
        return Decision(StatusAction.NONE, "moved into a Removed-category state")
    old_done, new_done = states.is_done(old_state), states.is_done(new_state)
    if new_done and not old_done:
        return Decision(StatusAction.RESOLVE, "moved from not-done into a done state")
    if old_done and not new_done:
        return Decision(StatusAction.UNRESOLVE, "moved from a done state to not-done")
    if new_done:
        return Decision(StatusAction.NONE, "moved between two done states")
    return Decision(StatusAction.NONE, "moved between two not-done states")


def status_change(
    issue_status: str, action: StatusAction, resolution: str
) -> tuple[dict[str, Any] | None, str]:
    """The Sentry write for ``action`` on an issue in ``issue_status`` (None: no write), and why."""
    if action is StatusAction.NONE:
        return None, "no status change needed"
    if issue_status in LEFT_ALONE:
        return None, f"issue is {issue_status}; left alone"
    if action is StatusAction.RESOLVE:
        if issue_status == "resolved":
            return None, "issue is already resolved"
        return {"status": resolution}, f"resolve ({resolution})"
    if issue_status == "unresolved":
        return None, "issue is already unresolved"
    return {"status": "unresolved"}, "reopen"


def assignee_change(
    currently_assigned: bool, current_user_id: str | None, target_user_id: str | None
) -> tuple[dict[str, Any] | None, str]:
    """The Sentry write that makes ``target_user_id`` (None: nobody) the assignee."""
    if target_user_id is None:
        if not currently_assigned:
            return None, "issue is already unassigned"
        return {"assignedTo": ""}, "unassign"
    if current_user_id == target_user_id:
        return None, "issue is already assigned to that member"
    return {"assignedTo": f"user:{target_user_id}"}, "assign"
