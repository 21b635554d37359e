"""SyncStatus.main() against a real Azurite, with Azure DevOps and Sentry faked by `responses`."""

from __future__ import annotations

import itertools

import pytest
from conftest import basic_auth, http_post, load_fixture
from fakes import ADO_BASE
from world import World, to

from shared.devops_to_sentry.done_states import forget_cached_states
from shared.doors import RetryLater
from shared.messages.sync import SyncMessage
from shared.store.poison import PoisonQueue


@pytest.fixture
def world(app_env, register, stores, rsps, waits):
    return World(app_env, register, stores, rsps)


# -- status rules through main() ------------------------------------------------------------


def test_moving_into_done_resolves(world):
    world.link(5, world.acme, "101")
    world.run(world.message(old="Active", new="Closed"))
    assert [(c.method, c.body) for c in world.acme.calls] == [
        ("GET", None),
        ("PUT", {"status": "resolved"}),
    ]
    assert world.acme.issues["101"]["status"] == "resolved"
    (row,) = world.audit(5)
    assert (row["outcome"], row["action"], row["issueId"]) == ("applied", "resolve", "101")
    link = world.link_row(5, "acme", "101")
    assert (link.state_rev, link.last_state) == (2, "Closed")


def test_resolution_strategy_next_release(app_env, register, stores, rsps, waits):
    world = World(app_env, register, stores, rsps, resolution="resolvedInNextRelease")
    world.link(5, world.acme, "101")
    world.run(world.message(old="Active", new="Resolved"))
    assert world.acme.writes[0].body == {"status": "resolvedInNextRelease"}


def test_moving_out_of_done_reopens(world):
    world.link(5, world.acme, "101", status="resolved")
    world.run(world.message(old="Closed", new="Active"))
    assert world.acme.writes[0].body == {"status": "unresolved"}
    assert world.acme.issues["101"]["status"] == "unresolved"


def test_created_directly_in_done_resolves(world):
    world.link(5, world.acme, "101")
    world.run(world.message(old=None, new="Closed"))
    assert world.acme.writes[0].body == {"status": "resolved"}


@pytest.mark.parametrize(
    ("old", "new", "status", "reason"),
    [
        ("New", "Active", "resolved", "two not-done states"),
        ("Resolved", "Closed", "unresolved", "two done states"),
    ],
)
def test_moves_that_change_nothing_make_no_sentry_call(world, old, new, status, reason):
    world.link(5, world.acme, "101", status=status)
    world.run(world.message(old=old, new=new))
    assert world.acme.calls == []
    (row,) = world.audit(5)
    assert row["outcome"] == "skipped"
    assert reason in row["reason"]
    assert world.link_row(5, "acme", "101").state_rev == 2


def test_removed_category_changes_nothing(world):
    world.ado.states = {
        "count": 3,
        "value": [
            {"name": "Active", "category": "InProgress"},
            {"name": "Closed", "category": "Completed"},
            {"name": "Removed", "category": "Removed"},
        ],
    }
    world.link(5, world.acme, "101", status="resolved")
    world.run(world.message(old="Closed", new="Removed"))
    assert world.acme.calls == []
    assert "Removed-category" in world.audit(5)[0]["reason"]


@pytest.mark.parametrize("status", ["ignored", "archived"])
def test_ignored_or_archived_issues_are_left_alone(world, status):
    world.link(5, world.acme, "101", status=status)
    world.run(world.message(old="Active", new="Closed"))
    assert world.acme.writes == []
    (row,) = world.audit(5)
    assert row["outcome"] == "skipped"
    assert f"issue is {status}" in row["reason"]


def test_issue_already_in_target_status_gets_no_write(world):
    world.link(5, world.acme, "101", status="resolved")
    world.run(world.message(old="Active", new="Closed"))
    assert [c.method for c in world.acme.calls] == ["GET"]
    assert "already resolved" in world.audit(5)[0]["reason"]


# -- done-states -----------------------------------------------------------------------------


def test_explicit_done_states_need_no_azure_devops_call(world):
    world.stores.integrations.set_done_states(world.id, "Fabrikam", "Bug", ["Active"])
    world.link(5, world.acme, "101")
    world.run(world.message(old="New", new="Active"))
    assert world.ado.calls == []
    assert world.acme.writes[0].body == {"status": "resolved"}


def test_explicit_wildcard_mapping(world):
    world.stores.integrations.set_done_states(world.id, "*", "*", ["Shipped"])
    world.link(5, world.acme, "101")
    world.run(world.message(old="Closed", new="Shipped"))  # Closed is not done here
    assert world.ado.calls == []
    assert world.acme.writes[0].body == {"status": "resolved"}


def test_states_are_read_once_per_project_and_type(world):
    for work_item in range(1, 11):
        world.link(work_item, world.acme, str(100 + work_item))
        world.run(world.message(work_item=work_item, old="Active", new="Closed"))
    assert len(world.ado.calls) == 1
    assert "/Bug/states" in world.ado.calls[0].path
    # A new process (empty memory cache) still finds them in Table Storage.
    forget_cached_states()
    world.link(11, world.acme, "111")
    world.run(world.message(work_item=11, old="Active", new="Closed"))
    assert len(world.ado.calls) == 1


def test_a_cold_burst_in_one_process_reads_the_states_once(world):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    for work_item in range(1, 9):
        world.link(work_item, world.acme, str(100 + work_item))
    inside, release = threading.Event(), threading.Event()
    states = world.ado._states

    def slow_states(request):  # every run arrives while the first read is under way
        inside.set()
        release.wait(10)
        return states(request)

    world.ado._states = slow_states
    with ThreadPoolExecutor(8) as pool:
        runs = [
            pool.submit(world.run, world.message(work_item=wi, old="Active", new="Closed"))
            for wi in range(1, 9)
        ]
        assert inside.wait(10)
        release.set()
        for run in runs:
            run.result()
    assert [c.path for c in world.ado.calls if "/states" in c.path] == [world.ado.calls[0].path]
    assert all(world.acme.issues[str(100 + wi)]["status"] == "resolved" for wi in range(1, 9))


def test_missing_type_is_read_from_the_work_item(world):
    world.ado.work_items[5] = {"System.WorkItemType": "Bug", "System.TeamProject": "Fabrikam"}
    world.link(5, world.acme, "101")
    world.run(world.message(work_item_type=None, project_id=None, project_name=None))
    assert [c.path.split("?")[0] for c in world.ado.calls] == [
        "/contoso/_apis/wit/workitems/5",
        "/contoso/Fabrikam/_apis/wit/workitemtypes/Bug/states",
    ]
    assert world.acme.writes[0].body == {"status": "resolved"}


@pytest.mark.parametrize(
    ("failures", "waited"),
    [
        ([(429, {"Retry-After": "7"})], [7.0]),
        ([(503, {}), (500, {})], None),
        ([("timeout", {})], None),
    ],
    ids=["429-retry-after", "5xx", "timeout"],
)
def test_azure_devops_transient_failures_are_retried_within_budget(world, waits, failures, waited):
    world.ado.failures.extend(failures)
    world.link(5, world.acme, "101")
    world.run(world.message())
    assert len(world.ado.calls) == len(failures) + 1
    if waited:
        assert waits == waited
    else:
        assert len(waits) == len(failures)
    assert world.acme.writes[0].body == {"status": "resolved"}


@pytest.mark.parametrize(
    "failure",
    [(429, {"Retry-After": "3600"}), (500, {}), ("timeout", {}), (401, {})],
    ids=["429-long", "5xx-persistent", "timeout-persistent", "401"],
)
def test_azure_devops_failure_never_guesses(world, waits, failure):
    world.ado.failures.extend([failure] * 10)
    world.link(5, world.acme, "101")
    with pytest.raises(RetryLater):
        world.run(world.message())
    assert world.acme.calls == []
    assert world.link_row(5, "acme", "101").state_rev == 0
    (row,) = world.audit(5)
    assert row["outcome"] == "failed"
    assert row["reason"].startswith("could not read the done-states: azure-devops: ")
    if failure[0] == 401:
        assert len(world.ado.calls) == 1  # never retried
    # Fixed, and the wait Azure DevOps asked for is over: the retry applies it.
    world.ado.failures.clear()
    waits.advance(3600)
    world.run(world.message(), dequeue_count=2)
    assert world.acme.writes[0].body == {"status": "resolved"}


# -- assignee --------------------------------------------------------------------------------


def test_assignee_becomes_the_sentry_member_with_that_email(world):
    world.acme.members["priya@contoso.com"] = "42"
    world.link(5, world.acme, "101")
    world.run(world.message(old=None, new=None, assignee=to("priya@contoso.com")))
    assert world.acme.writes[0].body == {"assignedTo": "user:42"}
    assert world.ado.calls == []  # no state change, no states lookup
    link = world.link_row(5, "acme", "101")
    assert (link.assignee_rev, link.state_rev) == (2, 0)


def test_state_and_assignee_in_one_write(world):
    world.acme.members["priya@contoso.com"] = "42"
    world.link(5, world.acme, "101")
    world.run(world.message(assignee=to("priya@contoso.com")))
    assert [c.method for c in world.acme.calls] == ["GET", "GET", "PUT"]
    assert world.acme.writes[0].body == {"status": "resolved", "assignedTo": "user:42"}
    assert world.audit(5)[0]["action"] == "resolve+assign"


def test_cleared_assignee_unassigns(world):
    world.link(5, world.acme, "101", assignee="42")
    world.run(world.message(old=None, new=None, assignee=to(None)))
    assert world.acme.writes[0].body == {"assignedTo": ""}
    assert world.acme.issues["101"]["assignee"] is None


def test_member_not_found_is_recorded_without_retry(world):
    world.link(5, world.acme, "101")
    world.run(world.message(old=None, new=None, assignee=to("nobody@contoso.com")))
    assert world.acme.writes == []
    (row,) = world.audit(5)
    assert row["outcome"] == "skipped"
    assert "no Sentry member with email nobody@contoso.com" in row["reason"]
    assert world.link_row(5, "acme", "101").assignee_rev == 2


def test_member_lookups_are_cached(world):
    world.acme.members["priya@contoso.com"] = "42"
    world.link(5, world.acme, "101")
    world.link(6, world.acme, "102")
    world.run(world.message(work_item=5, old=None, new=None, assignee=to("priya@contoso.com")))
    world.run(world.message(work_item=6, old=None, new=None, assignee=to("priya@contoso.com")))
    assert sum(1 for c in world.acme.calls if "/members/" in c.path) == 1


# -- several issues, several Sentry organizations ----------------------------------------------


def test_one_change_reaches_every_linked_issue_in_each_organization(world):
    world.link(5, world.acme, "101")
    world.link(5, world.acme, "102")
    world.link(5, world.beta, "201")
    world.run(world.message())
    assert {c.path for c in world.acme.writes} == {
        "/api/0/organizations/acme/issues/101/",
        "/api/0/organizations/acme/issues/102/",
    }
    assert [c.path for c in world.beta.writes] == ["/api/0/organizations/beta/issues/201/"]


def test_a_failing_organization_neither_blocks_nor_repeats_the_other(world):
    world.link(5, world.acme, "101")
    world.link(5, world.beta, "201")
    world.beta.failures.extend([(500, {})] * 10)
    with pytest.raises(RetryLater):
        world.run(world.message())
    assert len(world.acme.writes) == 1
    assert world.beta.issues["201"]["status"] == "unresolved"
    outcomes = {(row["sentryOrg"], row["outcome"]) for row in world.audit(5)}
    assert outcomes == {("acme", "applied"), ("beta", "failed")}

    world.beta.failures.clear()
    world.run(world.message(), dequeue_count=2)
    assert len(world.acme.writes) == 1  # not repeated
    assert world.acme.calls[-1].method == "PUT"  # and not even read again
    assert world.beta.issues["201"]["status"] == "resolved"


# -- Sentry failures ----------------------------------------------------------------------------


def test_sentry_429_waits_as_asked(world, waits):
    world.link(5, world.acme, "101")
    world.acme.failures.append((429, {"Retry-After": "2"}))
    world.run(world.message())
    assert waits == [2.0]
    assert world.acme.issues["101"]["status"] == "resolved"


def test_sentry_429_with_rate_limit_reset(world, waits):
    import time

    world.link(5, world.acme, "101")
    world.acme.failures.append((429, {"X-Sentry-Rate-Limit-Reset": str(int(time.time()) + 5)}))
    world.run(world.message())
    assert len(waits) == 1
    assert 3.0 <= waits[0] <= 5.0
    assert world.acme.issues["101"]["status"] == "resolved"


def test_sentry_5xx_is_retried_within_budget(world, waits):
    world.link(5, world.acme, "101")
    world.acme.failures.extend([(502, {}), (503, {})])
    world.run(world.message())
    assert len(waits) == 2
    assert world.acme.issues["101"]["status"] == "resolved"


def test_sentry_403_fails_the_message_for_a_retry(world):
    world.link(5, world.acme, "101")
    world.acme.failures.append((403, {}))
    with pytest.raises(RetryLater):
        world.run(world.message())
    assert len(world.acme.calls) == 1  # not retried in the same run
    row = world.audit(5)[0]
    assert (row["outcome"], row["error"]) == ("failed", "ApiAuthError")
    # The decision was stored before the call (write-ahead) and is still pending; the lease
    # was released, so the retry proceeds at once and settles it.
    link = world.link_row(5, "acme", "101")
    assert (link.state_rev, link.pending) == (2, frozenset({"status"}))
    world.run(world.message(), dequeue_count=2)
    assert world.acme.issues["101"]["status"] == "resolved"
    assert world.link_row(5, "acme", "101").pending == frozenset()
    assert world.audit(5)[0]["reason"] == (
        "revision already applied; completing an unfinished earlier write: resolve (resolved)"
    )


def test_deleted_sentry_issue_is_skipped_for_good(world):
    world.stores.links.add(world.id, 5, "acme", "999")  # no such issue in Sentry
    world.run(world.message())
    (row,) = world.audit(5)
    assert row["outcome"] == "skipped"
    assert row["reason"].endswith(": Sentry issue not found")
    link = world.link_row(5, "acme", "999")
    assert (link.state_rev, link.pending) == (2, frozenset())


def test_missing_token_setting_fails_for_a_retry(world, monkeypatch):
    monkeypatch.delenv("SENTRY_TOKEN_ACME")
    world.link(5, world.acme, "101")
    with pytest.raises(RetryLater):
        world.run(world.message())
    assert world.audit(5)[0]["error"] == "ConfigurationError"


# -- duplicates, order, poison -------------------------------------------------------------------


def test_duplicate_and_older_messages_change_nothing(world):
    world.link(5, world.acme, "101")
    world.run(world.message(rev=3, old="Active", new="Closed"))
    world.run(world.message(rev=3, old="Active", new="Closed"))
    world.run(world.message(rev=2, old="New", new="Active"))
    assert len(world.acme.writes) == 1
    assert world.acme.issues["101"]["status"] == "resolved"
    reasons = [row["reason"] for row in world.audit(5)]
    assert reasons[:2] == ["older revision; changes nothing now", "revision already applied"]


def test_a_late_revision_counts_when_it_is_the_newest_move_across_done(world):
    world.link(5, world.acme, "101")
    world.run(world.message(rev=2, old="New", new="Closed"))  # resolve
    # rev 3 (Closed -> Active) is late; rev 4 (Active -> New) alone asks nothing.
    world.run(world.message(rev=4, old="Active", new="New"))
    assert world.acme.issues["101"]["status"] == "resolved"
    world.run(world.message(rev=3, old="Closed", new="Active"))
    assert world.acme.issues["101"]["status"] == "unresolved"
    assert "out of order" in world.audit(5)[0]["reason"]
    assert [c.body for c in world.acme.writes] == [{"status": "resolved"}, {"status": "unresolved"}]


def test_agile_bug_resolved_then_closed_delivered_backwards_still_resolves(world):
    world.link(5, world.acme, "101")
    world.run(world.message(rev=3, old="Resolved", new="Closed"))
    assert world.acme.writes == []
    world.run(world.message(rev=2, old="Active", new="Resolved"))
    assert world.acme.issues["101"]["status"] == "resolved"


def test_unreadable_message_goes_straight_to_poison(world):
    world.run("{this is not a sync message")
    (poisoned,) = PoisonQueue(world.env.storage()).peek()
    assert poisoned.text == "{this is not a sync message"


def test_last_attempt_parks_the_message_in_poison_and_replay_applies_it_once(world, monkeypatch):
    world.link(5, world.acme, "101")
    world.link(5, world.beta, "201")
    world.beta.failures.extend([(500, {})] * 100)
    message = world.message()
    for attempt in range(1, 5):
        with pytest.raises(RetryLater):
            world.run(message, dequeue_count=attempt)
    world.run(message, dequeue_count=5)  # the last attempt: parked, not raised

    poison = PoisonQueue(world.env.storage())
    (parked,) = poison.peek()
    assert SyncMessage.decode(parked.text) == message
    assert world.audit(5)[0]["outcome"] == "poisoned"
    assert len(world.acme.writes) == 1

    world.beta.failures.clear()
    replayed = poison.replay()
    assert replayed.done == [parked.id]
    assert poison.peek() == []
    (queued,) = world.env.queued()
    world.run(SyncMessage.model_validate(queued))
    world.run(SyncMessage.model_validate(queued))  # a duplicate replay changes nothing
    assert len(world.acme.writes) == 1
    assert len(world.beta.writes) == 1
    assert world.beta.issues["201"]["status"] == "resolved"


def test_unknown_or_removed_integration_is_audited_and_dropped(world):
    world.link(5, world.acme, "101")
    world.stores.integrations.remove(world.id)
    world.run(world.message())
    assert world.acme.calls == []
    assert "was removed" in world.audit(5)[0]["reason"]


def test_concurrent_run_cannot_apply_the_same_link_twice(world):
    from shared.devops_to_sentry.sync import Syncer
    from shared.store.link_memory import LinkMemoryStore

    world.link(5, world.acme, "101")
    storage = world.env.storage()
    message = world.message()
    stale = LinkMemoryStore(storage).read(world.id, 5)
    world.run(message)  # another instance applies it and moves the watermark

    # This run read the link before that: its claim fails on the ETag, it looks again and
    # finds the revision applied.
    syncer = Syncer(storage)
    fresh = syncer._memory.read
    reads = iter([stale])
    syncer._memory.read = lambda *a: next(reads, None) or fresh(*a)  # type: ignore[method-assign]
    syncer.apply(message, 1)
    assert len(world.acme.writes) == 1
    assert world.audit(5)[0]["reason"] == "revision already applied"


def test_a_link_held_too_long_fails_the_message_for_a_retry(world, waits):
    from datetime import UTC, datetime, timedelta

    from shared.store.storage import LINKS

    world.link(5, world.acme, "101")
    link = world.link_row(5, "acme", "101")
    world.env.storage().table(LINKS).update_entity(
        {
            "PartitionKey": world.id,
            "RowKey": link.row_key,
            "LeaseUntil": datetime.now(UTC) + timedelta(minutes=2),
        }
    )
    with pytest.raises(RetryLater):
        world.run(world.message())
    assert world.acme.writes == []
    assert sum(waits) <= 10.0 + 2.0  # patience, then the queue's own retry
    assert world.audit(5)[0]["error"] == "LinkBusy"


def test_webhook_message_flows_into_sync(world):
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    payload["resourceContainers"]["collection"]["id"] = world.id
    payload["resource"]["fields"]["System.State"] = {"oldValue": "Active", "newValue": "Closed"}
    world.link(13, world.acme, "101")
    assert http_post(payload, basic_auth(world.integration.secret)).status_code == 202
    (queued,) = world.env.queued()
    world.run(SyncMessage.model_validate(queued))
    assert world.acme.issues["101"]["status"] == "resolved"
    assert world.ado.calls[0].path.startswith(
        "/contoso/" + payload["resourceContainers"]["project"]["id"]
    )
    assert ADO_BASE.startswith("https://dev.azure.com/")


# -- property: any shuffle and duplication ends where the newest revision points ---------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from shared.devops_to_sentry.rules import StateSet, status_action  # noqa: E402

_work_items = itertools.count(1000)
BUG_STATES = StateSet.from_categories(
    [
        ("New", "Proposed"),
        ("Active", "InProgress"),
        ("Resolved", "Resolved"),
        ("Closed", "Completed"),
    ]
)
PEOPLE = {"ann@contoso.com": "11", "bob@contoso.com": "12"}


@st.composite
def revision_histories(draw):
    count = draw(st.integers(1, 6))
    states = draw(
        st.lists(
            st.sampled_from(["New", "Active", "Resolved", "Closed"]),
            min_size=count + 1,
            max_size=count + 1,
        )
    )
    assignees = draw(
        st.lists(st.sampled_from(["keep", None, *PEOPLE]), min_size=count, max_size=count)
    )
    revisions = list(range(1, count + 1))
    order = draw(
        st.permutations(revisions + draw(st.lists(st.sampled_from(revisions), max_size=3)))
    )
    initial = draw(st.sampled_from(["unresolved", "resolved"]))
    return states, assignees, order, initial


def test_shuffled_and_duplicated_revisions_end_in_the_in_order_state(world):
    world.acme.members.update(PEOPLE)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(history=revision_histories())
    def check(history):
        states, assignees, order, initial = history
        work_item = next(_work_items)
        issue_id = str(work_item)
        world.link(work_item, world.acme, issue_id, status=initial)

        def message(rev):
            old, new = states[rev - 1], states[rev]
            assignee = assignees[rev - 1]
            return world.message(
                work_item=work_item,
                rev=rev,
                old=old if old != new else None,
                new=new if old != new else None,
                assignee=None if assignee == "keep" else to(assignee),
            )

        for rev in order:
            world.run(message(rev))

        # The in-order oracle, from the plain rules alone.
        status, assignee = initial, None
        for rev in range(1, len(states)):
            action = status_action(states[rev - 1], states[rev], BUG_STATES).action.value
            if states[rev - 1] != states[rev] and action != "none":
                status = "resolved" if action == "resolve" else "unresolved"
            if assignees[rev - 1] != "keep":
                assignee = PEOPLE.get(assignees[rev - 1]) if assignees[rev - 1] else None
        issue = world.acme.issues[issue_id]
        assert issue["status"] == status
        assert issue["assignee"] == assignee
        writes = [c.body for c in world.acme.writes if c.path.endswith(f"/{issue_id}/")]
        assert all(a != b for a, b in itertools.pairwise(writes)), writes

    check()


def test_cli_audit_shows_the_decisions(world):
    import io
    import json

    from shared.cli import main as cli

    world.link(5, world.acme, "101")
    world.run(world.message(rev=2, old="Active", new="Closed"))
    world.run(world.message(rev=2, old="Active", new="Closed"))
    out = io.StringIO()
    assert cli.main(["audit", world.id, "--work-item", "5"], out=out, err=io.StringIO()) == 0
    rows = json.loads(out.getvalue())
    assert [(r["outcome"], r["action"], r["reason"]) for r in rows] == [
        ("skipped", "none", "revision already applied"),
        ("applied", "resolve", "moved from not-done into a done state: resolve (resolved)"),
    ]
    assert rows[1]["sentryOrg"] == "acme" and rows[1]["issueId"] == "101"


def test_a_failed_states_read_is_remembered_briefly_not_repeated_per_message(world, waits):
    """Azure DevOps down: a burst of messages for one type fails fast (each retried by the
    queue) instead of each asking again; a moment later the read is tried again."""
    world.ado.failures.extend([(503, {})] * 100)
    for work_item in (5, 6, 7):
        world.link(work_item, world.acme, str(100 + work_item))
    for work_item in (5, 6, 7):
        with pytest.raises(RetryLater):
            world.run(world.message(work_item=work_item))
    first_round = len(world.ado.calls)
    assert first_round <= 4  # one read (with its retries), not one per message
    world.ado.failures.clear()
    waits.advance(11)
    world.run(world.message(work_item=5), dequeue_count=2)
    assert world.acme.writes[0].body == {"status": "resolved"}
