"""Alert rules that create work items: the settings check when a rule is saved
(SentryComponents.main) and the work item made when it fires (SentryEvents.main), against a
real Azurite with Azure DevOps and Sentry faked. Payloads are Sentry's own shapes."""

from __future__ import annotations

import copy
import json
import threading
import uuid

import azure.functions as func
import azure.functions.queue as func_queue
import pytest
from conftest import DEFAULT_ORG, load_fixture, reply_json, sentry_signature
from fakes import FakeAzureDevOps, FakeSentry

import SentryComponents
import SentryEvents
from shared.doors import RetryLater
from shared.issue_links.options import forget_cached_options
from shared.messages.sentry_event import SentryEventMessage
from shared.sentry.webhooks import EventAlertData, MetricAlertData
from shared.store.audit import AuditLog
from shared.store.poison import PoisonQueue

INSTALLATION = "7a485448-a9e2-4c85-8a3c-4f44175783c9"
SETTINGS = [
    {"name": "project", "value": "Fabrikam"},
    {"name": "workItemType", "value": "Bug"},
    {"name": "areaPath", "value": "Fabrikam\\Web"},
    {"name": "tags", "value": "sentry; alert"},
    {"name": "titlePrefix", "value": "[Alert]"},
]



class Alerts:
    def __init__(self, app_env, registered, stores, rsps) -> None:
        self.env, self.registered, self.stores = app_env, registered, stores
        stores.sentry_orgs.update(registered.id, DEFAULT_ORG, installation_uuid=INSTALLATION)
        self.ado = FakeAzureDevOps(rsps, registered.pat)
        self.sentry = FakeSentry(
            rsps,
            f"https://{DEFAULT_ORG}.sentry.example/",
            DEFAULT_ORG,
            registered.tokens[DEFAULT_ORG],
        )
        forget_cached_options()

    # -- saving a rule -----------------------------------------------------------------------

    def save_rule(self, fields: list[dict], *, secret: str | None = None):
        body = json.dumps({"installationId": INSTALLATION, "fields": fields}).encode()
        secret = secret or self.registered.client_secrets[DEFAULT_ORG]
        request = func.HttpRequest(
            "POST",
            f"http://localhost/api/sentry/{self.registered.id}/{DEFAULT_ORG}/alert-rule/settings",
            headers={"Content-Type": "application/json", "Sentry-App-Signature": sentry_signature(secret, body)},
            params={},
            route_params={
                "integrationId": self.registered.id,
                "org": DEFAULT_ORG,
                "component": "alert-rule",
                "action": "settings",
            },
            body=body,
        )
        return SentryComponents.main(request)

    # -- a rule firing -----------------------------------------------------------------------

    def issue_alert(self, issue_id: str = "1117540176", settings=None, rule_id="7") -> str:
        payload = load_fixture("sentryapp_event_alert_triggered.json")
        data = copy.deepcopy(payload["data"])
        data["event"]["issue_id"] = issue_id
        data["event"]["web_url"] = (
            f"https://sentry.io/organizations/{DEFAULT_ORG}/issues/{issue_id}/events/e48/"
        )
        data["event"]["message"] = "heck is not defined"
        data["issue_alert"]["id"] = rule_id
        data["issue_alert"]["settings"] = SETTINGS if settings is None else settings
        return SentryEventMessage(
            integration_id=self.registered.id,
            org=DEFAULT_ORG,
            resource="event_alert",
            action="triggered",
            installation_uuid=INSTALLATION,
            event_alert=EventAlertData.model_validate(data),
        ).encode()

    def metric_alert(self, action: str = "critical") -> str:
        payload = load_fixture("sentryapp_metric_alert_critical.json")
        data = copy.deepcopy(payload["data"])
        for trigger in data["metric_alert"]["alert_rule"]["triggers"]:
            for act in trigger["actions"]:
                act["settings"] = SETTINGS[:2]
        return SentryEventMessage(
            integration_id=self.registered.id,
            org=DEFAULT_ORG,
            resource="metric_alert",
            action=action,
            installation_uuid=INSTALLATION,
            metric_alert=MetricAlertData.model_validate(data),
        ).encode()

    def run(self, text: str, attempt: int = 1) -> None:
        SentryEvents.main(
            func_queue.QueueMessage(id=uuid.uuid4().hex, body=text.encode(), dequeue_count=attempt)
        )

    def created(self) -> list[int]:
        return [i for i in self.ado.work_items if i > 1000]

    def audit(self) -> list[dict]:
        return AuditLog(self.env.storage()).read(self.registered.id)

    def parked(self) -> list[str | None]:
        return [m.text for m in PoisonQueue(self.env.storage(), "sentry").peek()]


@pytest.fixture
def alerts(app_env, register, stores, rsps, waits):
    return Alerts(app_env, register(), stores, rsps)


# -- saving a rule -------------------------------------------------------------------------------


def test_valid_settings_are_accepted(alerts):
    response = alerts.save_rule(SETTINGS)
    assert response.status_code == 200, reply_json(response)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"project": "Nope"}, "project: Azure DevOps has no project 'Nope'"),
        ({"workItemType": "Epic"}, "workItemType: project 'Fabrikam' has no work item type 'Epic'"),
        ({"areaPath": "Fabrikam\\Nowhere"}, "areaPath: project 'Fabrikam' has no area"),
        ({"project": None}, "project is required"),
        ({"titlePrefix": "x" * 101}, "titlePrefix is longer than 100 characters"),
    ],
)
def test_settings_that_cannot_work_are_400_with_a_message_sentry_shows(alerts, change, message):
    fields = [
        {"name": item["name"], "value": change.get(item["name"], item["value"])}
        for item in SETTINGS
    ]
    response = alerts.save_rule(fields)
    assert response.status_code == 400
    assert message in reply_json(response)["message"]


def test_the_documented_request_shape_is_read_and_refused_for_what_it_lacks(alerts):
    shape = load_fixture("sentryapp_ui_alert_rule_action_request.json")
    response = alerts.save_rule(shape["fields"])
    assert response.status_code == 400
    assert reply_json(response) == {"message": "project is required"}


def test_an_unsigned_save_is_401(alerts):
    assert alerts.save_rule(SETTINGS, secret="wrong").status_code == 401
    assert alerts.ado.calls == []


# -- a rule firing -------------------------------------------------------------------------------


def test_an_issue_alert_creates_a_linked_work_item(alerts):
    alerts.run(alerts.issue_alert())
    (item_id,) = alerts.created()
    fields = alerts.ado.work_items[item_id]
    assert fields["System.Title"] == "[Alert] ReferenceError: heck is not defined"
    assert fields["System.AreaPath"] == "Fabrikam\\Web"
    assert fields["System.Tags"] == "sentry; alert"
    description = fields["System.Description"]
    for expected in ("Very Important Alert Rule!", "heck is not defined", "?(&lt;anonymous&gt;)",
                     "/issues/1117540176/", "/events/e48/"):  # fmt: skip
        assert expected in description
    issue_url = f"https://sentry.io/organizations/{DEFAULT_ORG}/issues/1117540176/"
    assert alerts.ado.relations[item_id][0]["url"] == issue_url
    (link,) = alerts.stores.links.for_issue(alerts.registered.id, DEFAULT_ORG, "1117540176")
    assert link.work_item_id == item_id
    (registered,) = alerts.sentry.external_issues.values()
    assert (registered["issueId"], registered["identifier"]) == (1117540176, str(item_id))
    assert [r["action"] for r in alerts.audit()] == ["alert-create"]


def test_the_same_issue_and_rule_get_one_work_item(alerts):
    alerts.run(alerts.issue_alert())
    alerts.run(alerts.issue_alert())
    assert len(alerts.created()) == 1
    assert "already has work item" in alerts.audit()[0]["reason"]
    alerts.run(alerts.issue_alert(rule_id="8"))  # another rule: its own work item
    alerts.run(alerts.issue_alert(issue_id="55"))  # another issue: its own work item
    assert len(alerts.created()) == 3


def test_a_burst_of_alerts_for_one_issue_creates_one_work_item(alerts):
    """Four runs at once: one creates; the others find the intent and are retried by the queue
    (RetryLater) until it is recorded, or see the work item and stop."""
    barrier, outcomes = threading.Barrier(4), []
    text = alerts.issue_alert()

    def fire():
        barrier.wait()
        try:
            alerts.run(text)
            outcomes.append("done")
        except RetryLater:
            outcomes.append("retry")

    threads = [threading.Thread(target=fire) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(outcomes.count("retry")):
        alerts.run(text, attempt=2)  # the queue's retries
    assert len(alerts.created()) == 1
    assert len([c for c in alerts.ado.calls if "$Bug" in c.path]) == 1
    assert len(alerts.stores.links.list_all(alerts.registered.id)) == 1


def test_an_alert_on_a_done_work_item_comments_that_it_occurred_again(alerts):
    """Only with the regression policy off: otherwise the policy speaks for the regression
    (one regression never gets both reactions)."""
    alerts.stores.integrations.set_regression(alerts.registered.id, "off")
    alerts.run(alerts.issue_alert())
    (item_id,) = alerts.created()
    alerts.ado.work_items[item_id]["System.State"] = "Closed"
    alerts.run(alerts.issue_alert())
    assert len(alerts.created()) == 1
    (comment,) = alerts.ado.comments[item_id].values()
    assert "Occurred again" in comment and "Very Important Alert Rule!" in comment
    assert alerts.audit()[0]["action"] == "alert-comment"


def test_with_a_regression_policy_the_alert_leaves_the_done_work_item_to_it(alerts):
    alerts.run(alerts.issue_alert())
    (item_id,) = alerts.created()
    alerts.ado.work_items[item_id]["System.State"] = "Closed"
    alerts.run(alerts.issue_alert())
    assert alerts.ado.comments.get(item_id, {}) == {}
    assert "regression policy (comment) handles it" in alerts.audit()[0]["reason"]


def test_a_metric_alert_creates_a_work_item_per_incident_and_resolved_creates_none(alerts):
    alerts.run(alerts.metric_alert("critical"))
    alerts.run(alerts.metric_alert("warning"))  # the same incident
    alerts.run(alerts.metric_alert("resolved"))
    (item_id,) = alerts.created()
    assert alerts.ado.work_items[item_id]["System.Title"] == "metric alert"
    assert alerts.stores.links.list_all(alerts.registered.id) == []  # no issue to link


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ([{"name": "workItemType", "value": "Bug"}], "settings are invalid: project is required"),
        (
            [{"name": "project", "value": "Renamed"}, {"name": "workItemType", "value": "Bug"}],
            "no longer fit Azure DevOps: project: Azure DevOps has no project 'Renamed' "
            "(TF200016",
        ),
        (
            [{"name": "project", "value": "Fabrikam"}, {"name": "workItemType", "value": "Gone"}],
            "no work item type 'Gone'",
        ),
    ],
)
def test_settings_that_no_longer_fit_park_the_alert_at_once_with_a_reason(alerts, settings, reason):
    text = alerts.issue_alert(settings=settings)
    alerts.run(text)  # first attempt: no retry loop
    assert alerts.created() == []
    assert alerts.parked() == [text]
    (row,) = alerts.audit()
    assert row["outcome"] == "poisoned" and reason in row["reason"]


def test_azure_devops_down_is_retried_then_parked_and_replayed(alerts):
    text = alerts.issue_alert()
    alerts.ado.failures.extend([(503, {})] * 8)
    with pytest.raises(RetryLater):
        alerts.run(text, attempt=1)
    alerts.run(text, attempt=5)  # the last attempt parks it
    assert alerts.parked() == [text]
    assert "gave up after 5 attempts" in alerts.audit()[0]["reason"]
    alerts.ado.failures.clear()
    outcome = PoisonQueue(alerts.env.storage(), "sentry").replay()
    assert len(outcome.done) == 1
    (replayed,) = alerts.env.queued(alerts.env.sentry_queue_name)
    alerts.run(json.dumps(replayed))
    assert len(alerts.created()) == 1


def test_an_unreadable_message_is_parked_with_an_audit_row(alerts):
    alerts.run('{"v": 1, "integrationId": "' + alerts.registered.id + '"}')
    assert len(alerts.parked()) == 1
    assert "unreadable Sentry event message" in alerts.audit()[0]["reason"]


def test_an_event_without_its_data_is_parked_with_a_reason(alerts):
    for resource in ("comment", "issue"):
        message = SentryEventMessage(
            integration_id=alerts.registered.id,
            org=DEFAULT_ORG,
            resource=resource,
            action="created",
            installation_uuid=INSTALLATION,
        )
        alerts.run(message.encode())
    assert len(alerts.parked()) == 2 and alerts.created() == []
    assert "without its" in alerts.audit()[0]["reason"]
