"""Failure notices: a change refused for good is said where the person made it, once per link
and kind of failure, only when the integration asks for it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from world import World

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sentry_to_devops"))
from test_issues import ISSUE
from test_issues import World as SentryWorld

from shared.store.audit import AuditLog


@pytest.fixture
def sync_world(app_env, register, stores, rsps, waits):
    world = World(app_env, register, stores, rsps)
    stores.integrations.set_sync(world.id, {"failure-notes": True})
    world.ado.work_items[5] = {"System.TeamProject": "Fabrikam", "System.Title": "Crash"}
    return world


def _comments(world, item: int = 5) -> list[str]:
    return list(world.ado.comments.get(item, {}).values())


def test_a_deleted_sentry_issue_is_said_on_the_work_item_once(sync_world):
    world = sync_world
    world.stores.links.add(world.id, 5, "acme", "999")  # no such issue in Sentry
    world.run(world.message(rev=2, old="Active", new="Closed"))
    world.run(world.message(rev=3, old="Closed", new="Active"))
    (comment,) = _comments(world)
    assert "no longer exists" in comment and "acme issue 999" in comment


def test_a_change_sentry_refuses_is_said_on_the_work_item_escaped(sync_world):
    world = sync_world
    world.link(5, world.acme, "101")
    refused = {"detail": "<img src=x onerror=alert(1)> cannot be assigned"}
    world.acme._issue = lambda request, answer=world.acme._issue: (  # Sentry answers 400
        (400, {"Content-Type": "application/json"}, json.dumps(refused))
        if request.method == "PUT"
        else answer(request)
    )  # fmt: skip
    world.run(world.message(rev=2, old="Active", new="Closed"))
    world.run(world.message(rev=3, old="Closed", new="Active"))
    (comment,) = _comments(world)
    assert "Sentry refused this work item's change" in comment
    assert "<img" not in comment and "&lt;img src=x onerror=alert(1)&gt; cannot be" in comment


def test_without_the_setting_nothing_is_said(app_env, register, stores, rsps, waits):
    world = World(app_env, register, stores, rsps)
    world.ado.work_items[5] = {"System.TeamProject": "Fabrikam", "System.Title": "Crash"}
    world.stores.links.add(world.id, 5, "acme", "999")
    world.run(world.message())
    assert _comments(world) == []


@pytest.fixture
def events_world(app_env, register, stores, rsps, waits):
    world = SentryWorld(app_env, register(), stores, rsps)
    stores.integrations.set_sync(world.registered.id, {"failure-notes": True})
    stores.integrations.set_resolve_states(world.registered.id, "Fabrikam", "Bug", "Done", None)
    world.sentry.issues[ISSUE]["status"] = "resolved"
    return world


def test_a_state_azure_devops_rejects_is_said_on_the_sentry_issue_once(events_world):
    world = events_world
    world.event("resolved")
    world.event("resolved")  # Sentry's next webhook for it (or the sweep's)
    notes = list(world.sentry.notes.get(ISSUE, {}).values())
    assert len(notes) == 1
    assert "Azure DevOps refused this change for work item [#31]" in notes[0]
    assert "integration resolve-states" in notes[0]
    assert world.state() == "Active"


def test_a_notice_that_could_not_be_posted_is_tried_again_next_time(events_world):
    world = events_world
    post, down = world.sentry._note, [True]

    def note(request):  # Sentry down while the note is posted (the issue read worked)
        if request.method == "POST" and down[0]:
            return 503, {}, "{}"
        return post(request)

    world.sentry._note = note
    world.event("resolved")
    assert world.sentry.notes.get(ISSUE, {}) == {}
    rows = AuditLog(world.env.storage()).read(world.registered.id, 31)
    assert any(r["action"] == "notice" and r["outcome"] == "failed" for r in rows)
    down[0] = False
    world.event("resolved")
    assert len(world.sentry.notes[ISSUE]) == 1
