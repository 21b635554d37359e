"""Sentry status and assignee -> work item state and Assigned To: exhaustive tables and
properties of the pure rules."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.devops_to_sentry.rules import StateSet
from shared.sentry_to_devops.rules import TypeState, assignee_move, state_move
from shared.store.sync_settings import ResolveStates

AGILE = [
    TypeState("New", "Proposed"),
    TypeState("Active", "InProgress"),
    TypeState("Resolved", "Resolved"),
    TypeState("Closed", "Completed"),
    TypeState("Removed", "Removed"),
]
BASIC = [
    TypeState("To Do", "Proposed"),
    TypeState("Doing", "InProgress"),
    TypeState("Done", "Completed"),
]
NO_PROGRESS = [TypeState("Open", "Proposed"), TypeState("Shut", "Completed")]


def done_of(states):
    return StateSet.from_categories((s.name, s.category) for s in states)


# (states, status, current) -> expected target (None: no write)
TABLE = {
    (id(AGILE), "resolved", "New"): "Resolved",
    (id(AGILE), "resolved", "Active"): "Resolved",
    (id(AGILE), "resolved", "Resolved"): None,
    (id(AGILE), "resolved", "Closed"): None,  # no Closed -> Resolved
    (id(AGILE), "resolved", "Removed"): None,
    (id(AGILE), "unresolved", "New"): None,
    (id(AGILE), "unresolved", "Active"): None,
    (id(AGILE), "unresolved", "Resolved"): "Active",
    (id(AGILE), "unresolved", "Closed"): "Active",
    (id(AGILE), "unresolved", "Removed"): None,
    (id(BASIC), "resolved", "To Do"): "Done",
    (id(BASIC), "resolved", "Doing"): "Done",
    (id(BASIC), "resolved", "Done"): None,
    (id(BASIC), "unresolved", "Done"): "Doing",
    (id(BASIC), "unresolved", "Doing"): None,
    (id(NO_PROGRESS), "unresolved", "Shut"): "Open",
    (id(NO_PROGRESS), "resolved", "Open"): "Shut",
}


@pytest.mark.parametrize(
    ("states", "status", "current"),
    [
        (states, status, current.name)
        for states in (AGILE, BASIC, NO_PROGRESS)
        for status in ("resolved", "unresolved", "ignored", "archived")
        for current in states
    ],
)
def test_every_status_and_current_state(states, status, current):
    move = state_move(status, current, states, done_of(states))
    assert move.value == TABLE.get((id(states), status, current)), move.reason
    assert move.reason


def test_an_explicit_mapping_wins_over_categories():
    mapping = ResolveStates("Fabrikam", "Bug", on_resolve="Closed", on_unresolve="New")
    assert state_move("resolved", "Active", AGILE, done_of(AGILE), mapping).value == "Closed"
    assert state_move("unresolved", "Closed", AGILE, done_of(AGILE), mapping).value == "New"
    only_resolve = ResolveStates("*", "*", on_resolve="Closed")
    assert state_move("unresolved", "Closed", AGILE, done_of(AGILE), only_resolve).value == "Active"


def test_explicit_done_states_decide_what_is_done():
    done = StateSet.of(["Resolved"])  # an operator's mapping: Closed is not done here
    assert state_move("resolved", "Closed", AGILE, done).value == "Resolved"


@given(
    status=st.sampled_from(["resolved", "unresolved", "ignored"]),
    current=st.sampled_from([s.name for s in AGILE]),
)
def test_a_move_never_crosses_the_wrong_way_and_is_idempotent(status, current):
    done = done_of(AGILE)
    move = state_move(status, current, AGILE, done)
    if move.value is None:
        return
    assert done.is_done(move.value) == (status == "resolved")
    assert done.is_done(current) != done.is_done(move.value)
    assert state_move(status, move.value, AGILE, done).value is None  # the echo changes nothing


@pytest.mark.parametrize(
    ("kind", "email", "current", "assigned", "expected"),
    [
        ("user", "a@x.io", None, True, "a@x.io"),
        ("user", "a@x.io", "b@x.io", True, "a@x.io"),
        ("user", "A@X.io", "a@x.io", True, None),
        ("user", None, None, True, None),
        ("team", None, "a@x.io", True, None),
        (None, None, "a@x.io", False, ""),
        (None, None, None, False, None),
    ],
)
def test_assignee_moves(kind, email, current, assigned, expected):
    move = assignee_move(kind, email, current, assigned=assigned)
    assert move.value == expected and move.reason


@given(st.sampled_from([None, "a@x.io", "b@x.io"]), st.sampled_from([None, "a@x.io"]))
def test_an_assignee_write_is_never_repeated(current, email):
    for kind, assigned in itertools.product(("user", "team"), (True, False)):
        move = assignee_move(kind, email, current, assigned=assigned)
        if move.value is not None:
            after = move.value or None
            assert assignee_move(kind, email, after, assigned=assigned).value is None
