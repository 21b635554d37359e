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

from shared.sentry.shapes import ASSIGNED_TO, STATUS_FIELD, assignee_update, status_update
from shared.store.records import ASSIGNEE, STATUS, LinkMemory, StatusMemory

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
        return status_update(resolution), f"resolve ({resolution})"
    if issue_status == "unresolved":
        return None, "issue is already unresolved"
    return status_update("unresolved"), "reopen"


def assignee_change(
    currently_assigned: bool, current_user_id: str | None, target_user_id: str | None
) -> tuple[dict[str, Any] | None, str]:
    """The Sentry write that makes ``target_user_id`` (None: nobody) the assignee."""
    if target_user_id is None:
        if not currently_assigned:
            return None, "issue is already unassigned"
        return assignee_update(None), "unassign"
    if current_user_id == target_user_id:
        return None, "issue is already assigned to that member"
    return assignee_update(target_user_id), "assign"


# -- one link, one revision: what to remember and what Sentry must be brought to ---------------

NOTHING_TO_DO = "nothing to do"


@dataclass(frozen=True)
class AssigneeChange:
    """A revision that changed the assignee: the new one's email, or None when it has none
    (``DOMAIN\\user`` on Azure DevOps Server). ``cleared``: nobody is assigned now."""

    email: str | None
    cleared: bool = False


@dataclass(frozen=True)
class LinkPlan:
    """``memory``: the link's memory after the revision, ``pending`` holding ``settle``;
    ``settle``: the fields to bring Sentry to ``memory``'s wish (empty: no Sentry call)."""

    memory: LinkMemory
    settle: frozenset[str]
    reason: str


def plan_link(
    memory: LinkMemory,
    rev: int,
    *,
    state: tuple[str | None, str | None] | None = None,
    states: StateSet | None = None,
    assignee: AssigneeChange | None = None,
    repair: frozenset[str] = frozenset(),
    echo: bool = False,
) -> LinkPlan:
    """Fold revision ``rev`` (its state move and/or assignee change) into a link's memory.

    ``repair``: fields a run found overtaken after writing them, so Sentry may hold a stale
    value whatever the memory says. Fields left ``pending`` by an earlier run are settled too.
    ``echo``: this app made the revision (bringing the work item to Sentry's state), so it is
    remembered but asks nothing of Sentry.
    """
    settle = set(memory.pending) | set(repair)
    earlier = frozenset(settle)
    reasons: list[str] = []
    status = memory.status
    if state is not None:
        if states is None:
            raise ValueError("a state move needs the done-states")
        status, decision = status_step(status, rev, state[0], state[1], states)
        reasons.append(decision.reason)
        if decision.action is not StatusAction.NONE:
            settle.add(STATUS)
    assignee_rev, wanted = memory.assignee_rev, memory.assignee
    if assignee is not None:
        if rev > memory.assignee_rev:
            assignee_rev = rev
            wanted = "" if assignee.cleared else assignee.email
            if wanted is None:
                reasons.append("assignee has no email address; assignee left as it is")
            else:
                settle.add(ASSIGNEE)
                reasons.append("assignee cleared" if assignee.cleared else "assignee changed")
        else:
            reasons.append(
                "assignee revision already applied"
                if rev == memory.assignee_rev
                else "older assignee revision; changes nothing now"
            )
    if echo:
        settle = set(earlier)
        reasons.append("made by this app from Sentry's change; nothing to send back")
    if memory.pending:
        reasons.append("completing an unfinished earlier write")
    if repair:
        reasons.append("correcting Sentry where it may differ from the link's memory")
    fields = frozenset(settle)
    after = LinkMemory(status, assignee_rev, wanted, fields)
    return LinkPlan(after, fields, "; ".join(reasons) or NOTHING_TO_DO)


@dataclass(frozen=True)
class SentryWrite:
    """The write that brings one issue to a link's wish: ``changes`` (empty: none needed)."""

    changes: dict[str, Any]
    actions: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def fields(self) -> set[str]:
        """Which synced fields ``changes`` touches."""
        return {STATUS for key in self.changes if key == STATUS_FIELD} | {
            ASSIGNEE for key in self.changes if key == ASSIGNED_TO
        }


def settle_write(
    memory: LinkMemory,
    fields: Iterable[str],
    *,
    issue_status: str,
    assigned: bool,
    assignee_user_id: str | None,
    member_user_id: str | None,
    resolution: str,
) -> SentryWrite:
    """What Sentry must be sent so ``fields`` of the issue match ``memory``.

    ``member_user_id``: the Sentry user with ``memory.assignee``'s email (None: no such member).
    """
    changes: dict[str, Any] = {}
    actions: list[str] = []
    reasons: list[str] = []
    wanted = set(fields)
    if STATUS in wanted:
        target = memory.status.target
        if target is None:
            reasons.append("no status asked for yet")
        else:
            action = StatusAction.RESOLVE if target else StatusAction.UNRESOLVE
            write, why = status_change(issue_status, action, resolution)
            reasons.append(why)
            if write:
                changes.update(write)
                actions.append(action.value)
    if ASSIGNEE in wanted:
        if memory.assignee is None:
            reasons.append("assignee unknown; left as it is")
        elif memory.assignee and member_user_id is None:
            reasons.append(f"no Sentry member with email {memory.assignee}; assignee left as it is")
        else:
            write, why = assignee_change(
                assigned, assignee_user_id, member_user_id if memory.assignee else None
            )
            reasons.append(why)
            if write:
                changes.update(write)
                actions.append("unassign" if write[ASSIGNED_TO] == "" else "assign")
    return SentryWrite(changes, tuple(actions), tuple(reasons))
