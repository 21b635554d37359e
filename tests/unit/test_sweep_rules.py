"""The sweep's decision for one link (pure): every combination of memory, Sentry's state, what
the last sweep saw and the directions, checked against the rules' promises, plus properties."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.store.records import ASSIGNEE, STATUS, LinkMemory, StatusMemory
from shared.sweep.rules import NOTHING, Directions, Seen, needs_member, plan

STATUSES = ["resolved", "unresolved", "ignored", "archived"]
SUBSTATUSES = [None, "regressed", "ongoing"]
TARGETS = [None, True, False]
ASSIGNEES = ["", "user:7", "user:8", "team:3"]
MEMORY_ASSIGNEES = [None, "", "ann@contoso.com"]


def memory(target: bool | None, assignee: str | None, pending=frozenset()) -> LinkMemory:
    status = StatusMemory(rev=4, state="x", cross_rev=3 if target is not None else 0,
                          cross_done=target)  # fmt: skip
    return LinkMemory(status=status, assignee_rev=2, assignee=assignee, pending=pending)


def wanted(target: bool | None) -> str | None:
    return None if target is None else ("resolved" if target else "unresolved")


CASES = list(
    itertools.product(
        TARGETS, MEMORY_ASSIGNEES, STATUSES, SUBSTATUSES, ASSIGNEES,
        [None, "same", "unresolved|", "resolved|user:7"], [False, True], [False, True],
    )
)  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(map(str, c)))
def test_every_combination_keeps_the_promises(case):
    target, mine, status, substatus, assignee, swept, to_status, to_assignee = case
    seen = Seen(status, assignee, substatus)
    last = seen.key if swept == "same" else swept
    member = "7" if mine else None
    got = plan(memory(target, mine), False, seen, last, Directions(to_status, to_assignee), member)
    # Unchanged since the last sweep: nothing at all.
    if last == seen.key:
        assert got == NOTHING
        return
    assert got.swept == seen.key and not got.settle
    # A direction carries only when on (a regression: always, the policy decides);
    # corrections only when off.
    regressed = status == "unresolved" and substatus == "regressed"
    assert (STATUS in got.to_devops) <= (to_status or regressed)
    assert (ASSIGNEE in got.to_devops) <= to_assignee
    assert (STATUS in got.fix_sentry) <= (not to_status)
    assert (ASSIGNEE in got.fix_sentry) <= (not to_assignee)
    # Statuses people chose in Sentry are never touched.
    if status in ("ignored", "archived"):
        assert STATUS not in got.to_devops | got.fix_sentry
    # A regression is never resolved again.
    if regressed:
        assert STATUS not in got.fix_sentry
    # Where the memory explains Sentry's status, nothing is carried or corrected for it:
    # carrying it back could undo a newer Azure DevOps change still on its way.
    if wanted(target) == status and not regressed:
        assert STATUS not in got.to_devops | got.fix_sentry
    # Sentry differing from what the work item asked, the other direction off: corrected.
    if (
        not to_status and wanted(target) not in (None, status)
        and status not in ("ignored", "archived") and not regressed
    ):  # fmt: skip
        assert STATUS in got.fix_sentry
    # A regression Sentry made against a done work item is always carried to the policy.
    if regressed and wanted(target) == "resolved":
        assert STATUS in got.to_devops
    # With the direction on, a status Sentry moved to on its own is carried.
    if to_status and wanted(target) not in (None, status) and status in ("resolved", "unresolved"):
        assert STATUS in got.to_devops


@pytest.mark.parametrize("pending", [frozenset({STATUS}), frozenset({ASSIGNEE, STATUS})])
def test_an_unfinished_write_is_settled_without_looking_at_sentry(pending):
    got = plan(memory(True, ""), False, None, None, Directions(True, True))
    assert got == NOTHING  # no memory pending, issue gone: nothing
    got = plan(memory(True, "", pending), False, None, None, Directions(True, True))
    assert (got.settle, got.to_devops, got.fix_sentry, got.swept) == (
        pending, frozenset(), frozenset(), None,
    )  # fmt: skip
    marked = plan(memory(True, ""), True, Seen("unresolved", ""), None, Directions(False, False))
    assert marked.settle == frozenset({STATUS, ASSIGNEE})


def test_a_member_is_looked_up_only_when_the_answer_can_matter():
    seen = Seen("unresolved", "user:7")
    assert needs_member(memory(None, "ann@contoso.com"), seen, None)
    assert not needs_member(memory(None, "ann@contoso.com"), seen, seen.key)  # unchanged
    assert not needs_member(memory(None, ""), seen, None)  # "nobody" needs no lookup
    assert not needs_member(memory(None, None), seen, None)
    assert not needs_member(memory(None, "ann@contoso.com"), None, None)  # issue gone


@given(
    target=st.sampled_from(TARGETS),
    mine=st.sampled_from(MEMORY_ASSIGNEES),
    first=st.tuples(st.sampled_from(STATUSES), st.sampled_from(ASSIGNEES)),
    then=st.tuples(st.sampled_from(STATUSES), st.sampled_from(ASSIGNEES)),
    directions=st.tuples(st.booleans(), st.booleans()),
)
def test_a_second_sweep_of_an_unchanged_issue_does_nothing(target, mine, first, then, directions):
    """Whatever happened, once the sweep recorded what it saw, seeing it again costs nothing:
    the sweep's cost is the number of changes, not the number of links."""
    member = "7" if mine else None
    seen = Seen(*then)
    got = plan(memory(target, mine), False, seen, Seen(*first).key, Directions(*directions),
               member)  # fmt: skip
    again = plan(memory(target, mine), False, seen, got.swept or Seen(*first).key,
                 Directions(*directions), member)  # fmt: skip
    assert again == NOTHING


@pytest.mark.parametrize(
    ("before", "shown", "only_link", "unlink"),
    [
        ("unresolved||1", False, True, True),  # shown last time, gone now: an unlink
        ("unresolved||1", False, False, False),  # another link replaced it in the sidebar
        ("unresolved||0", False, True, False),  # never shown (not registered)
        ("unresolved||1", True, True, False),  # still shown
        (None, False, True, False),  # first look: nothing to compare with
    ],
)
def test_an_unlink_is_a_link_the_sidebar_showed_and_no_longer_shows(
    before, shown, only_link, unlink
):
    seen = Seen("unresolved", "", None, shown)
    got = plan(memory(None, None), False, seen, before, Directions(True, True), None, only_link)
    assert got.unlink is unlink
    if unlink:
        assert (got.to_devops, got.fix_sentry, got.swept) == (frozenset(), frozenset(), seen.key)


def test_a_changed_note_count_lists_the_notes_only_when_comments_sync_is_on():
    before = Seen("unresolved", "", None, False, 2).key
    now = Seen("unresolved", "", None, False, 3)
    assert plan(memory(None, None), False, now, before, Directions(False, False, True)).notes
    assert not plan(memory(None, None), False, now, before, Directions(False, False, False)).notes
    assert not plan(memory(None, None), False, now, None, Directions(False, False, True)).notes


@pytest.mark.parametrize(
    ("listed", "known", "complete", "created", "deleted"),
    [
        (["1", "2"], {}, True, ["1", "2"], []),  # never seen: both created
        (["1", "2"], {"1": (True, False)}, True, ["2"], []),  # 1 carried already
        (["2"], {"1": (True, False)}, True, ["2"], ["1"]),  # 1 gone from Sentry: deleted
        (["2"], {"1": (True, False)}, False, ["2"], []),  # a partial list proves no deletion
        (["2"], {"1": (False, False)}, True, ["2"], []),  # 1 is ours (from Azure DevOps)
        (["1"], {"1": (False, True)}, True, [], []),  # tombstoned: never created again
        ([], {"1": (True, True)}, True, [], []),  # deleted already
    ],
)
def test_notes_to_carry(listed, known, complete, created, deleted):
    from shared.sweep.rules import notes_to_carry

    assert notes_to_carry(listed, known, complete) == (created, deleted)
