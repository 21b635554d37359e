"""What a Sentry issue's status and assignee ask of a linked work item (pure; tested
exhaustively and by property).

* status: resolved in Sentry moves a work item that is not done into the "on resolve" state;
  unresolved moves a done one into the "on unresolve" state. Those states come from the
  integration's mapping for the project and type, else from the type's state categories: the
  first ``Resolved`` state if the type has one, else the first ``Completed``; reopening goes to
  the first ``InProgress`` state, else the first ``Proposed``. A work item already done is not
  moved on resolve (no Closed -> Resolved), one not done is not moved on unresolve, one in a
  Removed state is never moved; ignored/archived changes nothing.
* assignee: a user with an email assigns the work item to that email; a team, or a user
  without an email, changes nothing; nobody clears the field. No write when it already holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.devops_to_sentry.rules import StateSet
from shared.store.sync_settings import ResolveStates

RESOLVED, COMPLETED, IN_PROGRESS, PROPOSED = "Resolved", "Completed", "InProgress", "Proposed"


@dataclass(frozen=True)
class TypeState:
    name: str
    category: str | None


@dataclass(frozen=True)
class Move:
    """A field write (``value``; ``""`` clears) or none (``value`` None), and why."""

    value: str | None
    reason: str


def _first(states: Sequence[TypeState], *categories: str) -> str | None:
    for category in categories:
        found = next((s.name for s in states if s.category == category), None)
        if found is not None:
            return found
    return None


def state_move(
    status: str,
    current: str | None,
    states: Sequence[TypeState],
    done: StateSet,
    mapping: ResolveStates | None = None,
) -> Move:
    """The state the work item moves to for Sentry ``status`` (the issue's current status)."""
    if status not in ("resolved", "unresolved"):
        return Move(None, f"{status} in Sentry changes no work item state")
    if done.is_removed(current):
        return Move(None, f"the work item is {current} (removed); left alone")
    if status == "resolved":
        if done.is_done(current):
            return Move(None, f"the work item is already done ({current})")
        target = (mapping.on_resolve if mapping else None) or _first(states, RESOLVED, COMPLETED)
        if target is None:
            return Move(None, "the work item type has no Resolved or Completed state")
    else:
        if not done.is_done(current):
            return Move(None, f"the work item is not done ({current})")
        target = (mapping.on_unresolve if mapping else None) or _first(
            states, IN_PROGRESS, PROPOSED
        )
        if target is None:
            return Move(None, "the work item type has no InProgress or Proposed state")
    if current is not None and target.casefold() == current.casefold():
        return Move(None, f"the work item is already {current}")
    return Move(target, f"{status} in Sentry: {current} -> {target}")


def assignee_move(
    kind: str | None, email: str | None, current: str | None, *, assigned: bool
) -> Move:
    """``kind``/``email``: Sentry's assignee (``assigned`` False: nobody). ``current``: the
    work item's Assigned To, as its unique name (None: nobody)."""
    if not assigned:
        if current is None:
            return Move(None, "the work item is already unassigned")
        return Move("", "unassigned in Sentry")
    if kind == "team":
        return Move(None, "assigned to a team in Sentry; Assigned To left as it is")
    if not email:
        return Move(None, "the Sentry assignee has no email address; Assigned To left as it is")
    if current is not None and current.casefold() == email.casefold():
        return Move(None, f"the work item is already assigned to {email}")
    return Move(email, f"assigned in Sentry to {email}")
