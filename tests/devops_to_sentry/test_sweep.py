"""The sweep of every link (from ``reconcile`` and from the timer, in chunks on the Sentry
queue) and retention, against Azurite with Azure DevOps and Sentry faked."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest
from world import World

import SentryEvents
import SubscriptionCheck
from shared.cli import main as cli
from shared.doors import RetryLater
from shared.maintenance.retention import prune
from shared.messages.sync import SyncMessage
from shared.store.audit import AuditEntry, AuditLog
from shared.sweep import run as sweep


class TimerRequest(func.TimerRequest):
    past_due = False


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def world(app_env, register, stores, rsps, waits):
    world = World(app_env, register, stores, rsps)
    world.link(5, world.acme, "101")
    world.run(world.message(rev=2, old="Active", new="Closed"))
    assert world.acme.issues["101"]["status"] == "resolved"
    return world


def _drain(world) -> None:
    for queued in world.env.queued():
        world.run(SyncMessage.model_validate(queued))
    world.env.storage().queue.clear_messages()


def test_a_hand_change_in_sentry_is_shown_by_a_dry_run_then_corrected(world):
    world.acme.issues["101"]["status"] = "unresolved"  # someone reopened it by hand
    code, out, err = run("reconcile", world.id, "--dry-run")
    assert code == 0, err
    assert json.loads(out)["would correct"] == [
        {
            "workItemId": 5,
            "sentryOrg": "acme",
            "issueId": "101",
            "fields": ["status"],
            "why": "Sentry says unresolved, the work item's revision says resolved",
        }
    ]
    assert world.env.queued() == []
    writes = len(world.acme.writes)

    code, out, _ = run("reconcile", world.id)
    assert len(json.loads(out)["corrections queued"]) == 1
    row = world.audit(5)[0]
    assert (row["action"], row["reason"]) == (
        "correction-queued",
        "Sentry differs from the link's memory: Sentry says unresolved, the work item's "
        "revision says resolved",
    )
    _drain(world)
    assert world.acme.issues["101"]["status"] == "resolved"
    assert len(world.acme.writes) == writes + 1
    # Settled: the next check finds nothing.
    code, out, _ = run("reconcile", world.id)
    assert json.loads(out)["corrections queued"] == []


def test_an_unfinished_write_is_queued_once_sentry_answers(world):
    world.acme.failures.extend([(500, {})] * 20)
    with pytest.raises(RetryLater):
        world.run(world.message(rev=3, old="Closed", new="Active"))
    assert world.link_row(5, "acme", "101").pending == frozenset({"status"})
    # While the organization's token is refused, no round queues a settle that would fail.
    world.acme.failures.extend([(401, {"detail": "Invalid token"})] * 4)
    for _ in range(2):
        _, out, _ = run("reconcile", world.id)
        shown = json.loads(out)
        assert shown["corrections queued"] == [] and "reading 1 issues failed" in shown["errors"][0]
    assert world.env.queued() == []
    world.acme.failures.clear()
    world.acme.calls.clear()
    run("reconcile", world.id)
    assert len(world.acme.calls) == 1  # one read says Sentry answers; pending says the rest
    assert len(world.env.queued()) == 1
    _drain(world)
    assert world.acme.issues["101"]["status"] == "unresolved"
    assert world.link_row(5, "acme", "101").pending == frozenset()


@pytest.mark.parametrize("status", ["ignored", "archived"])
def test_issues_left_alone_are_no_difference(world, status):
    world.acme.issues["101"]["status"] = status
    code, out, _ = run("reconcile", world.id, "--dry-run")
    assert (code, json.loads(out)["would correct"]) == (0, [])


def test_assignee_drift_is_corrected(world):
    world.acme.members["ann@contoso.com"] = "11"
    world.run(
        world.message(rev=3, old=None, new=None, assignee=_to("ann@contoso.com"))
    )
    assert world.acme.issues["101"]["assignee"] == "11"
    world.acme.issues["101"]["assignee"] = "99"
    _, out, _ = run("reconcile", world.id)
    (difference,) = json.loads(out)["corrections queued"]
    assert difference["fields"] == ["assignee"]
    _drain(world)
    assert world.acme.issues["101"]["assignee"] == "11"


def _many(world, count: int) -> None:
    for n in range(count):
        world.stores.links.add(world.id, 1000 + n, "acme", str(5000 + n))
        world.acme.add_issue(str(5000 + n))


def _reads(world) -> list:
    return [c for c in world.acme.calls if c.path.startswith("/api/0/organizations/acme/issues/?")]


def test_300_links_are_swept_with_3_sentry_reads(world):
    """Every link, not only the recently touched ones: 100 issues per Sentry call."""
    _many(world, 299)  # and the world's own link: 300
    world.acme.calls.clear()
    code, out, err = run("reconcile", world.id, "--dry-run")
    assert code == 0, err
    assert json.loads(out)["swept"] == {"links": 300, "sentryReads": 3}
    assert len(_reads(world)) == 3 and world.acme.calls == _reads(world)
    assert all(c.path.count("group=") <= 100 for c in _reads(world))


def test_a_large_integration_is_swept_in_chunks(world, monkeypatch):
    _many(world, 299)
    monkeypatch.setattr(sweep, "CHUNK_ROWS", 120)
    code, out, _ = run("reconcile", world.id, "--dry-run")
    assert (code, json.loads(out)["swept"]["links"]) == (0, 300)
    assert len(_reads(world)) == 5  # chunks of 120, 120 and 60 links


def test_a_sweep_costs_nothing_more_for_issues_sentry_did_not_change(world):
    run("reconcile", world.id)  # the first look records what Sentry shows
    _drain(world)
    world.acme.calls.clear()
    code, out, _ = run("reconcile", world.id)
    assert (code, json.loads(out)["corrections queued"]) == (0, [])
    assert [c.method for c in world.acme.calls] == ["GET"]  # one batched read, nothing else


def test_the_sweep_stops_before_sentry_throttles_and_says_when_to_go_on(world):
    _many(world, 250)
    world.acme.window = 2  # two calls left in Sentry's window
    code, out, _ = run("reconcile", world.id, "--dry-run")
    result = json.loads(out)
    assert (code, result["swept"]["sentryReads"]) == (0, 1)
    assert any("rate limit" in error for error in result["errors"])
    assert world.acme.window == 1  # stopped with calls to spare: never throttled


def _to(email):
    from world import to

    return to(email)


# -- retention -----------------------------------------------------------------------------------


def test_prune_deletes_old_markers_and_audit_rows_only(world, app_env):
    from shared.store.deliveries import Deliveries

    # A marker of a revision reconcile queued (webhooks write none).
    Deliveries(app_env.storage()).record(world.id, 5, 3)
    audit = AuditLog(app_env.storage())
    audit.record(world.id, AuditEntry(work_item_id=5, rev=1, outcome="applied", action="x",
                                      reason="old"))  # fmt: skip
    rows_before = len(audit.read(world.id, limit=1000))

    # Today nothing is old enough.
    assert prune(app_env.storage(), world.id) == {"markers": 0, "audit": 0}
    # Eight days on, the marker is; ninety-one days on, the audit rows are too.
    later = datetime.now(UTC) + timedelta(days=8)
    assert prune(app_env.storage(), world.id, later) == {"markers": 1, "audit": 0}
    much_later = datetime.now(UTC) + timedelta(days=91)
    counts = prune(app_env.storage(), world.id, much_later)
    assert counts["audit"] == rows_before
    assert world.link_row(5, "acme", "101").state_rev == 2  # links are never pruned
    code, out, _ = run("prune", world.id, "--yes")
    assert (code, json.loads(out)) == (0, {world.id: {"markers": 0, "audit": 0}})


def test_with_two_way_on_a_lost_sentry_webhook_moves_the_work_item_instead(world):
    """Sentry sends webhooks once: someone reopened the issue and the webhook was lost. With
    status-to-devops on, the timer carries Sentry's change to the work item, not back."""
    import azure.functions.queue as func_queue

    import SentryEvents
    from shared.sentry_to_devops.issues import forget_cached_type_states

    forget_cached_type_states()
    world.stores.integrations.set_sync(world.id, {"status-to-devops": True})
    world.ado.work_items[5] = {
        "System.TeamProject": "Fabrikam",
        "System.WorkItemType": "Bug",
        "System.State": "Closed",
    }
    world.acme.issues["101"]["status"] = "unresolved"
    code, out, err = run("reconcile", world.id, "--dry-run")
    assert code == 0, err
    (shown,) = json.loads(out)["would correct"]
    assert ("fields" not in shown, shown["toAzureDevOps"]) == (True, ["status"])
    assert world.env.queued(world.env.sentry_queue_name) == []  # a dry run writes nothing

    run("reconcile", world.id)
    (queued,) = world.env.queued(world.env.sentry_queue_name)
    assert (queued["resource"], queued["action"]) == ("issue", "unresolved")
    assert world.env.queued() == []  # no correction of Sentry
    SentryEvents.main(
        func_queue.QueueMessage(id="q", body=json.dumps(queued).encode(), dequeue_count=1)
    )
    assert world.ado.work_items[5]["System.State"] == "Active"
    assert world.acme.issues["101"]["status"] == "unresolved"  # left as the person set it


# -- the timer: a round of chunks on the Sentry queue --------------------------------------------


def _work_sentry_queue(world) -> int:
    """SentryEvents takes everything on the Sentry queue until it is empty; returns the count."""
    import azure.functions.queue as func_queue

    done = 0
    while True:
        queued = world.env.queued(world.env.sentry_queue_name)
        if not queued:
            return done
        world.env.storage().queue_client("sentry").clear_messages()
        for message in queued:
            SentryEvents.main(
                func_queue.QueueMessage(
                    id=f"s{done}", body=json.dumps(message).encode(), dequeue_count=1
                )
            )
            done += 1


def test_the_timer_sweeps_every_link_in_a_chain_of_chunks_that_never_forks(world, monkeypatch):
    """Three issues resolved in Sentry whose webhooks were lost, among 300 links: one timer
    round, in chunks, moves exactly those three work items, once, even when a chunk message
    is delivered twice (the queue is at-least-once)."""
    from shared.sentry_to_devops.issues import forget_cached_type_states
    from shared.store.sweeps import DONE, Sweeps

    forget_cached_type_states()
    _many(world, 299)
    for n in (10, 150, 290):
        world.acme.issues[str(5000 + n)]["status"] = "resolved"
        world.ado.work_items[1000 + n] = {
            "System.TeamProject": "Fabrikam",
            "System.WorkItemType": "Bug",
            "System.State": "Active",
        }
    world.stores.integrations.set_sync(world.id, {"status-to-devops": True})
    monkeypatch.setattr(sweep, "CHUNK_ROWS", 120)
    SubscriptionCheck.main(TimerRequest())
    (first,) = world.env.queued(world.env.sentry_queue_name)
    assert (first["resource"], first["sweep"]["after"]) == ("sweep", "")
    SubscriptionCheck.main(TimerRequest())  # a round is under way: no second one
    assert len(world.env.queued(world.env.sentry_queue_name)) == 1
    world.env.storage().send_sentry_event(json.dumps(first))  # delivered twice
    _work_sentry_queue(world)
    assert Sweeps(world.env.storage()).current(world.id).after == DONE
    moved = [p for p in world.ado.patches if p[0] >= 1000]
    assert sorted(item for item, _ in moved) == [1010, 1150, 1290]
    assert all(world.ado.work_items[1000 + n]["System.State"] == "Resolved" for n in (10, 150, 290))
    SubscriptionCheck.main(TimerRequest())  # the next round finds nothing new
    _work_sentry_queue(world)
    assert len([p for p in world.ado.patches if p[0] >= 1000]) == 3


def test_a_regression_is_never_resolved_again_and_the_policy_comments_once(world):
    """Status to Azure DevOps is off (the default policy is then ``comment``); the work item
    is done and its issue regressed in Sentry, which sends no webhook for it: the sweep does
    not resolve it again, and the work item gets one "occurred again" comment."""
    from shared.sentry_to_devops.issues import forget_cached_type_states

    forget_cached_type_states()
    world.ado.work_items[5] = {
        "System.TeamProject": "Fabrikam", "System.WorkItemType": "Bug", "System.State": "Closed",
    }  # fmt: skip
    world.acme.issues["101"].update(status="unresolved", substatus="regressed")
    code, out, _ = run("reconcile", world.id)
    (carried,) = json.loads(out)["corrections queued"]
    assert (code, carried["toAzureDevOps"]) == (0, ["status"])
    _work_sentry_queue(world)
    code, out, _ = run("reconcile", world.id)  # seen already: nothing more
    assert (code, json.loads(out)["corrections queued"]) == (0, [])
    _work_sentry_queue(world)
    assert world.env.queued() == []  # no correction of Sentry
    assert world.acme.issues["101"]["status"] == "unresolved"
    (comment,) = world.ado.comments[5].values()
    assert "Occurred again" in comment and "PROJ-101" in comment
    assert world.ado.work_items[5]["System.State"] == "Closed"


@pytest.mark.parametrize(
    ("policy", "state", "comments", "new_item"),
    [("reopen", "Active", 0, False), ("off", "Closed", 0, False), ("new", "Closed", 0, True)],
)
def test_regression_policies(world, policy, state, comments, new_item):
    from shared.sentry_to_devops.issues import forget_cached_type_states

    forget_cached_type_states()
    run("integration", "sync", world.id, "--regression", policy)
    world.ado.work_items[5] = {
        "System.TeamProject": "Fabrikam", "System.WorkItemType": "Bug", "System.State": "Closed",
        "System.Title": "Division by zero", "System.AreaPath": "Fabrikam\\Web",
        "System.IterationPath": "Fabrikam\\Sprint 9",
    }  # fmt: skip
    world.acme.issues["101"].update(status="unresolved", substatus="regressed")
    for _ in range(2):  # twice: once is once
        run("reconcile", world.id)
        _work_sentry_queue(world)
    assert world.ado.work_items[5]["System.State"] == state
    assert len(world.ado.comments.get(5, {})) == comments
    created = [i for i in world.ado.work_items if i > 1000]
    assert len(created) == int(new_item)
    if new_item:
        (new,) = created
        fields = world.ado.work_items[new]
        assert (fields["System.Title"], fields["System.AreaPath"], fields["System.IterationPath"]) == (
            "Division by zero", "Fabrikam\\Web", "Fabrikam\\Sprint 9",
        )  # fmt: skip
        (related,) = [r for r in world.ado.relations[new] if r["rel"] == "System.LinkTypes.Related"]
        assert related["url"].endswith("/_apis/wit/workitems/5")
        linked = [link.work_item_id for link in world.stores.links.for_issue(world.id, "acme", "101")]
        assert linked == [new]
    assert world.acme.issues["101"]["status"] == "unresolved"  # never resolved again


# -- live impact ------------------------------------------------------------------------------


def test_live_impact_fields_follow_sentry_once_per_change(world):
    world.ado.type_fields["Bug"] += [
        {"referenceName": "Custom.Events", "name": "Events", "alwaysRequired": False},
        {"referenceName": "Custom.Users", "name": "Users", "alwaysRequired": False},
        {"referenceName": "Custom.LastSeen", "name": "Last seen", "alwaysRequired": False},
    ]
    world.ado.work_items[5] = {"System.TeamProject": "Fabrikam", "System.WorkItemType": "Bug"}
    world.link(5, world.acme, "102")
    world.acme.issues["102"].update(count=5, user_count=2, last_seen="2026-12-03T07:00:00Z")
    world.acme.issues["101"].update(count=12, user_count=3)
    for source, name in (("count", "Events"), ("userCount", "Users"), ("lastSeen", "Last seen")):
        code, _, err = run("integration", "field-map", world.id, "--project", "Fabrikam",
                           "--type", "Bug", "--source", source, "--field", name, "--live")  # fmt: skip
        assert code == 0, err
    run("reconcile", world.id)
    patches = [c for c in world.ado.calls if c.method == "PATCH"]
    assert len(patches) == 1  # one write for the work item, its two issues together
    assert {op["path"]: op["value"] for op in patches[0].body} == {
        "/fields/Custom.Events": "17",
        "/fields/Custom.Users": "5",
        "/fields/Custom.LastSeen": "2026-12-03T07:00:00Z",  # the later of the two
    }
    world.ado.calls.clear()
    run("reconcile", world.id)
    assert [c for c in world.ado.calls if c.method == "PATCH"] == []  # nothing changed
    world.acme.issues["102"]["count"] = 6
    run("reconcile", world.id)
    (patch,) = [c for c in world.ado.calls if c.method == "PATCH"]
    assert patch.body == [{"op": "add", "path": "/fields/Custom.Events", "value": "18"}]
    assert any(r["action"] == "impact" for r in world.audit(5))


def test_live_is_only_for_impact_sources(world):
    code, _, err = run("integration", "field-map", world.id, "--project", "*", "--type", "*",
                       "--source", "level", "--field", "Severity", "--live")  # fmt: skip
    assert code == 1 and "--live takes count, lastSeen, userCount, not level" in err
