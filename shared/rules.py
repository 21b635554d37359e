"""The sync rules, as pure functions of data (no I/O): tested exhaustively and by property.

* status: a work item moving from a not-done into a done state resolves its Sentry issues;
  moving from done to not-done reopens them; not-done -> not-done, done -> done and moves into a
  Removed-category state change nothing. An issue that is ignored/archived (or being
  reprocessed or deleted) is left alone, and one already in the target status gets no write.
* order: revisions arrive in any order, some twice. ``status_step`` folds one revision into a
  link's ``StatusMemory`` so that every order ends where in-order processing ends.
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


@dataclass(frozen=True)
class StatusMemory:
    """What a link remembers of the work item's revisions, whatever order they came in.

    ``rev``/``state``: the newest revision seen and its state. ``cross_rev``/``cross_done``:
    the newest revision that moved between not-done and done, and whether it moved into done.
    In order, every such move asks for a write; out of order, the newest one decides.
    """

    rev: int = 0
    state: str | None = None
    cross_rev: int = 0
    cross_done: bool | None = None

    @property
    def target(self) -> bool | None:
        """True: Sentry should be resolved; False: unresolved; None: no move asked anything."""
        return self.cross_done if self.cross_rev else None


def status_step(
    memory: StatusMemory, rev: int, old: str | None, new: str | None, states: StateSet
) -> tuple[StatusMemory, Decision]:
    """Fold revision ``rev`` (a move from ``old`` to ``new``) into ``memory``.

    In order this is ``status_action``. Out of order, a revision older than the newest move
    across done/not-done changes nothing, and one newer asks for its own direction; so every
    delivery order ends in the state in-order processing ends in (an Active -> Resolved that
    arrives after Resolved -> Closed still resolves).
    """
    if rev == memory.rev:
        return memory, Decision(StatusAction.NONE, "revision already applied")
    own = status_action(old, new, states)
    newer = rev > memory.rev
    after = StatusMemory(
        rev=max(rev, memory.rev),
        state=new if newer else memory.state,
        cross_rev=memory.cross_rev,
        cross_done=memory.cross_done,
    )
    if own.action is StatusAction.NONE or rev < memory.cross_rev:
        reason = own.reason if newer else "older revision; changes nothing now"
        return after, Decision(StatusAction.NONE, reason)
    after = StatusMemory(
        rev=after.rev,
        state=after.state,
        cross_rev=rev,
        cross_done=own.action is StatusAction.RESOLVE,
    )
    if after.target == memory.target:
        return after, Decision(StatusAction.NONE, f"{own.reason}, as already applied")
    reason = own.reason if newer else f"{own.reason} (revision {rev} arrived out of order)"
    return after, Decision(own.action, reason)


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
