"""The pure sync rules: exhaustive tables and properties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.devops_to_sentry.rules import (
    LEFT_ALONE,
    StateSet,
    StatusAction,
    assignee_change,
    status_action,
    status_change,
)

AGILE_BUG = StateSet.from_categories(
    [
        ("New", "Proposed"),
        ("Active", "InProgress"),
        ("Resolved", "Resolved"),
        ("Closed", "Completed"),
        ("Removed", "Removed"),
    ]
)
STATES = [None, "New", "Active", "Resolved", "Closed", "Removed"]
DONE = {"Resolved", "Closed"}

R, U, N = StatusAction.RESOLVE, StatusAction.UNRESOLVE, StatusAction.NONE


def expected_action(old: str | None, new: str | None) -> StatusAction:
    if new is None or new == "Removed":
        return N
    if new in DONE and old not in DONE:
        return R
    if old in DONE and new not in DONE:
        return U
    return N


@pytest.mark.parametrize(("old", "new"), list(itertools.product(STATES, STATES)))
def test_status_action_for_every_pair_of_agile_bug_states(old, new):
    assert status_action(old, new, AGILE_BUG).action is expected_action(old, new)


def test_the_table_covers_each_outcome():
    outcomes = {expected_action(o, n) for o, n in itertools.product(STATES, STATES)}
    assert outcomes == {R, U, N}


def test_categories_decide_done_and_removed():
    assert AGILE_BUG.done == {"resolved", "closed"}
    assert AGILE_BUG.removed == {"removed"}
    assert AGILE_BUG.is_done("CLOSED")  # Azure DevOps state names are case-insensitive
    assert not AGILE_BUG.is_done(None)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("New", "Active", "two not-done states"),
        ("Resolved", "Closed", "two done states"),
        ("Closed", "Removed", "Removed-category"),
        ("Active", None, "cleared"),
        (None, "Closed", "not-done into a done state"),
    ],
)
def test_reasons_say_why(old, new, reason):
    assert reason in status_action(old, new, AGILE_BUG).reason


ISSUE_STATUSES = ["unresolved", "resolved", *sorted(LEFT_ALONE)]


@pytest.mark.parametrize(
    ("issue_status", "action", "resolution"),
    list(itertools.product(ISSUE_STATUSES, [R, U, N], ["resolved", "resolvedInNextRelease"])),
)
def test_status_change_for_every_issue_status(issue_status, action, resolution):
    change, reason = status_change(issue_status, action, resolution)
    if action is N or issue_status in LEFT_ALONE:
        assert change is None
    elif action is R:
        assert change == (None if issue_status == "resolved" else {"status": resolution})
    else:
        assert change == (None if issue_status == "unresolved" else {"status": "unresolved"})
    assert reason


@pytest.mark.parametrize(
    ("assigned", "current", "target", "expected"),
    [
        (False, None, None, None),
        (True, "1", None, {"assignedTo": ""}),
        (True, None, None, {"assignedTo": ""}),  # a team is assigned
        (False, None, "7", {"assignedTo": "user:7"}),
        (True, "1", "7", {"assignedTo": "user:7"}),
        (True, "7", "7", None),
        (True, None, "7", {"assignedTo": "user:7"}),
    ],
)
def test_assignee_change_table(assigned, current, target, expected):
    assert assignee_change(assigned, current, target)[0] == expected


state_names = st.sampled_from(["New", "Active", "Resolved", "Closed", "Removed", "Custom"])


@given(old=st.none() | state_names, new=st.none() | state_names)
def test_a_status_action_never_contradicts_the_new_state(old, new):
    action = status_action(old, new, AGILE_BUG).action
    if action is R:
        assert AGILE_BUG.is_done(new)
    if action is U:
        assert not AGILE_BUG.is_done(new)
        assert AGILE_BUG.is_done(old)


@given(state=state_names)
def test_staying_in_a_state_changes_nothing(state):
    assert status_action(state, state, AGILE_BUG).action is N


@given(
    status=st.sampled_from(ISSUE_STATUSES),
    action=st.sampled_from([R, U, N]),
)
def test_applying_a_change_twice_writes_once(status, action):
    change, _ = status_change(status, action, "resolved")
    if change is None:
        return
    after = "resolved" if change["status"].startswith("resolved") else change["status"]
    assert status_change(after, action, "resolved")[0] is None


# -- order independence ------------------------------------------------------------------------

from shared.devops_to_sentry.rules import status_step  # noqa: E402
from shared.store.records import StatusMemory  # noqa: E402

WORKFLOW = ["New", "Active", "Resolved", "Closed", "Removed"]


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[str], list[int]]:
    """States s0..sn of one work item, and a delivery order of revisions 1..n with repeats."""
    states = draw(st.lists(st.sampled_from(WORKFLOW), min_size=2, max_size=7))
    revisions = list(range(1, len(states)))
    extra = draw(st.lists(st.sampled_from(revisions), max_size=4))
    order = draw(st.permutations(revisions + extra))
    return states, order


def fold(states: list[str], order: list[int]) -> tuple[StatusMemory, list[StatusAction]]:
    memory, writes = StatusMemory(), []
    for rev in order:
        memory, decision = status_step(memory, rev, states[rev - 1], states[rev], AGILE_BUG)
        if decision.action is not N:
            writes.append(decision.action)
    return memory, writes


@given(histories())
def test_any_order_ends_where_in_order_processing_ends(history):
    states, order = history
    in_order, sequential_writes = fold(states, sorted(set(order)))
    shuffled, writes = fold(states, order)
    assert shuffled == in_order
    # The last write (if any) is the same, no write is repeated back to back, and there are
    # never more writes than in-order processing asks for.
    assert writes[-1:] == sequential_writes[-1:]
    assert all(a is not b for a, b in itertools.pairwise(writes))
    assert len(writes) <= len(sequential_writes)


@given(histories())
def test_in_order_processing_follows_the_plain_rule(history):
    states, _ = history
    memory, last_target = StatusMemory(), None
    for rev in range(1, len(states)):
        memory, decision = status_step(memory, rev, states[rev - 1], states[rev], AGILE_BUG)
        plain = status_action(states[rev - 1], states[rev], AGILE_BUG).action
        # Writes only where the plain rule asks for one, and only when the target changes.
        if decision.action is not N:
            assert decision.action is plain
        elif plain is not N:
            assert last_target == (plain is R)
        if decision.action is not N:
            last_target = decision.action is R


def test_agile_bug_closed_before_resolved_arrives_still_resolves():
    memory, first = status_step(StatusMemory(), 3, "Resolved", "Closed", AGILE_BUG)
    assert first.action is N  # done -> done on its own
    memory, late = status_step(memory, 2, "Active", "Resolved", AGILE_BUG)
    assert late.action is R
    assert "out of order" in late.reason
    assert status_step(memory, 2, "Active", "Resolved", AGILE_BUG)[1].action is N


# -- echo: a revision this app made from Sentry's change --------------------------------------


from shared.devops_to_sentry.rules import AssigneeChange, plan_link  # noqa: E402
from shared.store.records import ASSIGNEE, STATUS, LinkMemory  # noqa: E402


@given(
    pending=st.frozensets(st.sampled_from([STATUS, ASSIGNEE])),
    repair=st.frozensets(st.sampled_from([STATUS, ASSIGNEE])),
    old=st.sampled_from(["New", "Active", "Resolved", "Closed"]),
    new=st.sampled_from(["New", "Active", "Resolved", "Closed"]),
    email=st.sampled_from([None, "a@x.io"]),
)
def test_an_echo_is_remembered_and_asks_sentry_for_nothing_new(pending, repair, old, new, email):
    memory = LinkMemory(pending=pending)
    assignee = AssigneeChange(email=email, cleared=email is None)
    normal = plan_link(memory, 5, state=(old, new), states=AGILE_BUG, assignee=assignee, repair=repair)
    echo = plan_link(
        memory, 5, state=(old, new), states=AGILE_BUG, assignee=assignee, repair=repair, echo=True
    )
    assert echo.memory.status == normal.memory.status
    assert (echo.memory.assignee_rev, echo.memory.assignee) == (
        normal.memory.assignee_rev,
        normal.memory.assignee,
    )
    assert echo.settle == pending | repair  # only what earlier runs left unfinished
    assert echo.memory.pending == echo.settle


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (AssigneeChange(email="ana@contoso.com"), "assignee changed"),
        (AssigneeChange(email=None, cleared=True), "assignee cleared"),
    ],
)
def test_an_assignee_change_says_what_it_does(change, reason):
    """The audit row of an applied assignment reads as one, not "nothing to do: assign"."""
    plan = plan_link(LinkMemory(), 3, assignee=change)
    assert plan.settle == {ASSIGNEE}
    assert plan.reason == reason
