"""Sentry issue status and assignee -> linked work items, through SentryEvents.main() against a
real Azurite, Azure DevOps and Sentry faked with real payload shapes."""

from __future__ import annotations

import json
import uuid

import azure.functions.queue as func_queue
import pytest
from conftest import DEFAULT_ORG, load_fixture
from fakes import FakeAzureDevOps, FakeSentry

import SentryEvents
from shared.devops_to_sentry.done_states import forget_cached_states
from shared.messages.sentry_event import SentryEventMessage
from shared.sentry.webhooks import Actor, IssueData
from shared.sentry_to_devops.issues import forget_cached_type_states
from shared.store.audit import AuditLog

ISSUE = "1638844654"
APP = "2ebf071f-28df-4989-aca9-c37c763b278f"


class World:
    def __init__(self, app_env, registered, stores, rsps) -> None:
        self.env, self.registered, self.stores = app_env, registered, stores
        stores.integrations.set_sync(
            registered.id, {"status-to-devops": True, "assignee-to-devops": True}
        )
        self.ado = FakeAzureDevOps(rsps, registered.pat)
        self.sentry = FakeSentry(
            rsps,
            f"https://{DEFAULT_ORG}.sentry.example/",
            DEFAULT_ORG,
            registered.tokens[DEFAULT_ORG],
        )
        self.sentry.add_issue(ISSUE)
        self.work_item(31, "Active")
        stores.links.add(registered.id, 31, DEFAULT_ORG, ISSUE)
        forget_cached_states()
        forget_cached_type_states()

    def work_item(self, item_id: int, state: str, assigned: str | None = None) -> None:
        self.ado.work_items[item_id] = {
            "System.TeamProject": "Fabrikam",
            "System.WorkItemType": "Bug",
            "System.State": state,
            **(
                {"System.AssignedTo": {"displayName": "X", "uniqueName": assigned}}
                if assigned
                else {}
            ),
        }

    def event(
        self, action: str, fixture: str = "sentryapp_issue_resolved.json", actor=None
    ) -> None:
        data = load_fixture(fixture)["data"]
        data["issue"]["id"] = ISSUE
        message = SentryEventMessage(
            integration_id=self.registered.id,
            org=DEFAULT_ORG,
            resource="issue",
            action=action,
            installation_uuid=str(uuid.uuid4()),
            actor=actor or Actor(type="user", id="1", name="Meredith"),
            issue=IssueData.model_validate(data),
        )
        SentryEvents.main(
            func_queue.QueueMessage(id="m", body=message.encode().encode(), dequeue_count=1)
        )

    def state(self, item_id: int = 31) -> str:
        return self.ado.work_items[item_id]["System.State"]

    def audit(self) -> list[dict]:
        return AuditLog(self.env.storage()).read(self.registered.id)


@pytest.fixture
def world(app_env, register, stores, rsps, waits):
    return World(app_env, register(), stores, rsps)


def test_resolving_in_sentry_moves_the_work_item_to_resolved_with_a_rev_test(world):
    world.sentry.issues[ISSUE]["status"] = "resolved"
    world.event("resolved")
    assert world.state() == "Resolved"
    ((_, ops),) = world.ado.patches
    assert ops[0] == {"op": "test", "path": "/rev", "value": 1}
    assert ops[1] == {"op": "add", "path": "/fields/System.State", "value": "Resolved"}
    (row,) = world.audit()
    assert (row["outcome"], row["action"], row["workItemId"]) == ("applied", "state", 31)


def test_the_issues_current_status_decides_not_the_webhooks_order(world):
    """issue.resolved arrives after the issue was unresolved again: nothing moves."""
    world.sentry.issues[ISSUE]["status"] = "unresolved"
    world.event("resolved")
    assert world.state() == "Active" and world.ado.patches == []
    assert "not done" in world.audit()[0]["reason"]


def test_unresolving_reopens_a_done_work_item_and_only_a_done_one(world):
    world.work_item(31, "Closed")
    world.event("unresolved")
    assert world.state() == "Active"
    world.event("unresolved")  # already not done: no second write
    assert len(world.ado.patches) == 1


def test_a_done_work_item_is_not_moved_on_resolve(world):
    world.work_item(31, "Closed")
    world.sentry.issues[ISSUE]["status"] = "resolved"
    world.event("resolved")
    assert world.state() == "Closed" and world.ado.patches == []


def test_an_explicit_mapping_and_a_rejected_state_is_an_audit_row_not_a_retry(world):
    world.stores.integrations.set_resolve_states(
        world.registered.id, "Fabrikam", "Bug", "Done", None
    )
    world.sentry.issues[ISSUE]["status"] = "resolved"
    world.event("resolved")  # returns: no RetryLater
    assert world.state() == "Active"
    (row,) = world.audit()
    assert row["outcome"] == "failed" and "'Done' that is not in the list" in row["reason"]


def test_a_412_reads_and_decides_again(world, monkeypatch):
    world.sentry.issues[ISSUE]["status"] = "resolved"
    real = world.ado._patch
    raced = []

    def someone_else_first(request):
        if not raced:
            raced.append(1)
            world.ado.work_items[31]["System.State"] = "Closed"  # a person closed it meanwhile
            world.ado.revs[31] = 2
        return real(request)

    monkeypatch.setattr(world.ado, "_patch", someone_else_first)
    world.event("resolved")
    assert world.state() == "Closed"  # not moved back to Resolved
    assert "already done" in world.audit()[0]["reason"]


def test_assigning_in_sentry_assigns_the_work_item_by_email(world):
    world.sentry.members["ann@contoso.com"] = "42"
    world.sentry.issues[ISSUE]["assignee"] = "42"
    world.event("assigned", "sentryapp_issue_assigned.json")
    assert world.ado.work_items[31]["System.AssignedTo"]["uniqueName"] == "ann@contoso.com"
    world.event("assigned")  # the same again: no write
    assert len(world.ado.patches) == 1
    world.sentry.issues[ISSUE]["assignee"] = None
    world.event("assigned")
    assert "System.AssignedTo" not in world.ado.work_items[31]
    assert world.ado.patches[-1][1][1] == {
        "op": "add",
        "path": "/fields/System.AssignedTo",
        "value": "",
    }


def test_a_team_assignment_or_an_unknown_identity_changes_nothing(world):
    world.sentry.issues[ISSUE]["assignee"] = "7"
    world.sentry.issues[ISSUE]["assignee_type"] = "team"
    world.event("assigned", "sentryapp_issue_assigned_team.json")
    assert "team" in world.audit()[0]["reason"]
    world.ado.identities = {"someone@else.com"}
    world.sentry.issues[ISSUE]["assignee_type"] = "user"
    world.event("assigned")
    row = world.audit()[0]
    assert row["outcome"] == "failed" and "unknown identity" in row["reason"]
    assert "System.AssignedTo" not in world.ado.work_items[31]


def test_our_own_change_in_sentry_is_an_echo_and_is_skipped(world):
    world.stores.sentry_orgs.record_installation(
        world.registered.id, DEFAULT_ORG, str(uuid.uuid4()), APP
    )
    world.sentry.issues[ISSUE]["status"] = "resolved"
    world.event("resolved", actor=Actor(type="application", id=APP, name="us"))
    assert world.ado.calls == [] and world.sentry.calls == []
    assert "echo" in world.audit()[0]["reason"]
    world.event("resolved", actor=Actor(type="application", id="sentry", name="Sentry"))
    assert world.state() == "Resolved"  # Sentry itself (auto-resolve) is not us


def test_directions_that_are_off_change_nothing(world):
    world.stores.integrations.set_sync(
        world.registered.id, {"status-to-devops": False, "assignee-to-devops": False}
    )
    world.sentry.issues[ISSUE]["status"] = "resolved"
    world.event("resolved")
    assert world.ado.calls == [] and "not synced" in world.audit()[0]["reason"]


def test_every_linked_work_item_moves(world):
    world.work_item(32, "New")
    world.stores.links.add(world.registered.id, 32, DEFAULT_ORG, ISSUE)
    world.sentry.issues[ISSUE]["status"] = "resolved"
    world.event("resolved")
    assert (world.state(31), world.state(32)) == ("Resolved", "Resolved")
    assert json.dumps(world.audit()).count('"applied"') == 2
