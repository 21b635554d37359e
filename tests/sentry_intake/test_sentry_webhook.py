"""SentryWebhook.main() against a real Azurite: signatures, freshness, duplicates, installation
changes, the queue message, and bad input. Payloads are Sentry's own shapes (tests/fixtures)."""

from __future__ import annotations

import json
import time
import uuid

import azure.functions as func
import pytest
from conftest import DEFAULT_ORG, load_fixture, reply_json, sentry_signature

import SentryWebhook
from shared.messages.sentry_event import SentryEventMessage
from shared.store.audit import AuditLog


class Hooks:
    def __init__(self, app_env, registered, stores) -> None:
        self.env = app_env
        self.registered = registered
        self.stores = stores
        self.secret = registered.client_secrets[DEFAULT_ORG]

    def post(
        self,
        payload: dict | bytes,
        resource: str,
        *,
        secret: str | None = None,
        timestamp: float | None = None,
        request_id: str | None = None,
        headers: dict[str, str] | None = None,
        org: str = DEFAULT_ORG,
        integration: str | None = None,
    ):
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent = {
            "Content-Type": "application/json",
            "Request-ID": request_id or uuid.uuid4().hex,
            "Sentry-Hook-Resource": resource,
            "Sentry-Hook-Timestamp": str(int(timestamp if timestamp is not None else time.time())),
            "Sentry-Hook-Signature": sentry_signature(secret or self.secret, body),
        }
        sent.update(headers or {})
        request = func.HttpRequest(
            "POST",
            f"http://localhost:7071/api/sentry/{integration or self.registered.id}/{org}/webhook",
            headers=sent,
            params={},
            route_params={"integrationId": integration or self.registered.id, "org": org},
            body=body,
        )
        return SentryWebhook.main(request)

    def queued(self) -> list[SentryEventMessage]:
        return [
            SentryEventMessage.decode(json.dumps(m))
            for m in self.env.queued(self.env.sentry_queue_name)
        ]

    def org(self):
        integration = self.stores.integrations.get(self.registered.id, with_orgs=True)
        return integration.sentry_org(DEFAULT_ORG)

    def audit(self) -> list[dict]:
        return AuditLog(self.env.storage()).read(self.registered.id)


LINKED_FIXTURES = [
    "sentryapp_issue_created.json",
    "sentryapp_issue_resolved.json",
    "sentryapp_issue_assigned.json",
    "sentryapp_issue_assigned_team.json",
    "sentryapp_issue_ignored.json",
    "sentryapp_comment_created.json",
    "sentryapp_comment_updated.json",
    "sentryapp_comment_deleted.json",
]


@pytest.fixture
def hooks(app_env, register, stores):
    """Both directions on, and every fixture's issue linked to a work item."""
    registered = register()
    stores.integrations.set_sync(registered.id, {"status-to-devops": True, "comments": True})
    issues = set()
    for name in LINKED_FIXTURES:
        data = load_fixture(name)["data"]
        issues.add(str(data["issue"]["id"]) if "issue" in data else str(data["issue_id"]))
    for work_item, issue in enumerate(sorted(issues), start=10):
        stores.links.add(registered.id, work_item, DEFAULT_ORG, issue)
    return Hooks(app_env, registered, stores)


def test_the_webhook_queues_whatever_the_settings_and_sentry_events_decides_with_current_ones(
    hooks,
):
    """A webhook never drops an event because of a setting (cached or just changed): it
    verifies and queues; SentryEvents reads the settings as they are when it runs."""
    import azure.functions.queue as func_queue

    import SentryEvents
    from shared.store.audit import AuditLog

    hooks.stores.integrations.set_sync(hooks.registered.id, {"status-to-devops": False})
    unlinked = load_fixture("sentryapp_issue_created.json")
    unlinked["data"]["issue"]["id"] = "999999"
    for payload, resource in (
        (unlinked, "issue"),
        (load_fixture("sentryapp_issue_resolved.json"), "issue"),
        (load_fixture("sentryapp_comment_created.json"), "comment"),
    ):
        assert hooks.post(payload, resource).status_code == 202
    queued = hooks.queued()
    assert len(queued) == 3
    # Turned on and off again before SentryEvents runs: what counts is the setting then.
    hooks.stores.integrations.set_sync(hooks.registered.id, {"comments": False})
    for message in queued:
        SentryEvents.main(
            func_queue.QueueMessage(id="m", body=message.encode().encode(), dequeue_count=1)
        )
    reasons = [row["reason"] for row in AuditLog(hooks.env.storage()).read(hooks.registered.id)]
    assert any("comment sync is off" in r for r in reasons)
    assert any("is not synced to Azure DevOps" in r for r in reasons)


@pytest.mark.parametrize(
    ("fixture", "resource", "field"),
    [
        ("sentryapp_issue_created.json", "issue", "issue"),
        ("sentryapp_issue_resolved.json", "issue", "issue"),
        ("sentryapp_issue_assigned.json", "issue", "issue"),
        ("sentryapp_issue_assigned_team.json", "issue", "issue"),
        ("sentryapp_issue_ignored.json", "issue", "issue"),
        ("sentryapp_comment_created.json", "comment", "comment"),
        ("sentryapp_comment_updated.json", "comment", "comment"),
        ("sentryapp_comment_deleted.json", "comment", "comment"),
        ("sentryapp_event_alert_triggered.json", "event_alert", "event_alert"),
        ("sentryapp_metric_alert_critical.json", "metric_alert", "metric_alert"),
        ("sentryapp_metric_alert_resolved.json", "metric_alert", "metric_alert"),
    ],
)
def test_resources_we_act_on_are_queued_with_a_versioned_message(hooks, fixture, resource, field):
    payload = load_fixture(fixture)
    response = hooks.post(payload, resource, request_id="5f0c1a2b3c4d4e5f8a9b0c1d2e3f4a5b")
    assert response.status_code == 202, reply_json(response)
    (message,) = hooks.queued()
    assert message.schema_version == 1
    assert (message.integration_id, message.org) == (hooks.registered.id, DEFAULT_ORG)
    assert (message.resource, message.action) == (resource, payload["action"])
    assert message.installation_uuid == payload["installation"]["uuid"]
    assert message.request_id == "5f0c1a2b3c4d4e5f8a9b0c1d2e3f4a5b"
    assert getattr(message, field) is not None
    if resource == "issue":
        assert message.issue.issue.id == str(payload["data"]["issue"]["id"])
    if resource == "comment":
        assert message.comment.comment == payload["data"]["comment"]
        assert message.comment.issue_id == str(payload["data"]["issue_id"])
    if resource == "event_alert":
        settings = payload["data"]["issue_alert"]["settings"]
        assert [s.name for s in message.event_alert.issue_alert.settings] == [
            s["name"] for s in settings
        ]
        assert message.event_alert.event.issue_id == payload["data"]["event"]["issue_id"]
    if payload.get("actor"):
        assert message.actor is not None and message.actor.type == payload["actor"]["type"]
    # Only the parts that matter travel: never the whole event.
    assert len(json.dumps(hooks.env.queued(hooks.env.sentry_queue_name)[0])) < len(
        json.dumps(payload)
    ) or resource == "comment"


def test_assigned_team_and_user_keep_their_kind(hooks):
    hooks.post(load_fixture("sentryapp_issue_assigned.json"), "issue")
    hooks.post(load_fixture("sentryapp_issue_assigned_team.json"), "issue")
    user, team = hooks.queued()
    assert (user.issue.assignee.type, user.issue.assignee.email) == (
        "user",
        "hemanth.d@example.com",
    )
    assert team.issue.assignee.type == "team"


def test_a_redelivery_is_queued_again_and_made_harmless_where_the_work_is_done(hooks):
    """Sentry's own retries carry a new Request-ID, so the webhook keeps no markers (no read,
    no write): SentryEvents decides from current state and claims notes by id."""
    payload = load_fixture("sentryapp_issue_resolved.json")
    first = hooks.post(payload, "issue", request_id="r-1")
    again = hooks.post(payload, "issue", request_id="r-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert len(hooks.queued()) == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secret": "not-the-secret"}, "Sentry-Hook-Signature"),
        ({"headers": {"Sentry-Hook-Signature": ""}}, "Sentry-Hook-Signature"),
        ({"timestamp": time.time() - 301}, "older than 5 minutes"),
        ({"timestamp": time.time() + 3600}, "older than 5 minutes"),
        ({"headers": {"Sentry-Hook-Timestamp": "yesterday"}}, "older than 5 minutes"),
        ({"headers": {"Sentry-Hook-Timestamp": "nan"}}, "older than 5 minutes"),
    ],
)
def test_unsigned_forged_or_stale_requests_get_401_and_write_nothing(hooks, change, reason):
    payload = load_fixture("sentryapp_installation_created.json")
    payload["data"]["installation"]["organization"]["slug"] = DEFAULT_ORG
    response = hooks.post(payload, "installation", **change)
    assert response.status_code == 401
    assert reason in reply_json(response)["error"]
    assert hooks.org().installation_uuid is None
    assert hooks.queued() == []
    assert hooks.audit() == []


def test_the_signature_covers_the_raw_bytes(hooks):
    """Sentry signs the exact text it sends: re-serialized JSON would not match."""
    payload = load_fixture("sentryapp_issue_created.json")
    body = json.dumps(payload, indent=1).encode()
    signed_compact = sentry_signature(hooks.secret, json.dumps(payload, separators=(",", ":")).encode())
    response = hooks.post(body, "issue", headers={"Sentry-Hook-Signature": signed_compact})
    assert response.status_code == 401
    assert hooks.post(body, "issue").status_code == 202


def test_an_organization_without_a_client_secret_refuses_everything(hooks):
    hooks.stores.sentry_orgs.update(hooks.registered.id, DEFAULT_ORG, client_secret_setting="")
    response = hooks.post(load_fixture("sentryapp_issue_created.json"), "issue")
    assert response.status_code == 401  # as for a wrong signature; the log says why
    assert reply_json(response)["error"] == "missing or wrong Sentry-Hook-Signature"
    assert hooks.queued() == []


def test_installation_created_records_the_uuid_and_deleted_detaches(hooks, world_sync):
    created = load_fixture("sentryapp_installation_created.json")
    created["data"]["installation"]["organization"]["slug"] = DEFAULT_ORG
    response = hooks.post(created, "installation")
    assert response.status_code == 200
    uuid_ = created["data"]["installation"]["uuid"]
    assert hooks.org().installation_uuid == uuid_
    assert not hooks.org().uninstalled

    deleted = load_fixture("sentryapp_installation_deleted.json")
    deleted["data"]["installation"]["uuid"] = deleted["installation"]["uuid"] = uuid_
    deleted["data"]["installation"]["organization"]["slug"] = DEFAULT_ORG
    response = hooks.post(deleted, "installation")
    assert response.status_code == 200
    assert hooks.org().uninstalled
    assert [row["action"] for row in hooks.audit()] == ["sentry-uninstalled", "sentry-installed"]

    # Nothing more is synced into that organization: a webhook still queues (it decides
    # nothing), and SentryEvents skips the uninstalled organization.
    import azure.functions.queue as func_queue

    import SentryEvents

    assert hooks.post(load_fixture("sentryapp_issue_created.json"), "issue").status_code == 202
    (message,) = hooks.queued()
    SentryEvents.main(
        func_queue.QueueMessage(id="m", body=message.encode().encode(), dequeue_count=1)
    )
    assert "uninstalled" in hooks.audit()[0]["reason"]
    world_sync(hooks)

    # Installing again (Sentry makes a new installation, with a new uuid) resumes.
    created["data"]["installation"]["uuid"] = created["installation"]["uuid"] = str(uuid.uuid4())
    assert hooks.post(created, "installation").status_code == 200
    assert not hooks.org().uninstalled


@pytest.fixture
def world_sync(rsps):
    """SyncStatus skips links into an uninstalled organization, with an audit row."""

    def check(hooks: Hooks) -> None:
        from fakes import FakeSentry

        from shared.devops_to_sentry.sync import handle_queue_message
        from shared.messages.sync import StateTransition, SyncMessage

        sentry = FakeSentry(
            rsps,
            f"https://{DEFAULT_ORG}.sentry.example/",
            DEFAULT_ORG,
            hooks.registered.tokens[DEFAULT_ORG],
        )
        sentry.add_issue("4242")
        hooks.stores.links.add(hooks.registered.id, 77, DEFAULT_ORG, "4242")
        message = SyncMessage(
            integration_id=hooks.registered.id,
            work_item_id=77,
            rev=3,
            work_item_type="Bug",
            project_name="Fabrikam",
            state=StateTransition(old="Active", new="Closed"),
        )
        handle_queue_message(message.encode(), 1, hooks.env.storage())
        assert sentry.calls == []
        assert "uninstalled" in hooks.audit()[0]["reason"]

    return check


def test_an_installation_of_another_organization_is_refused(hooks):
    created = load_fixture("sentryapp_installation_created.json")  # organization "test-org"
    response = hooks.post(created, "installation")
    assert response.status_code == 400
    assert "test-org" in reply_json(response)["error"]
    assert hooks.org().installation_uuid is None


@pytest.mark.parametrize(
    ("resource", "action"),
    [("error", "created"), ("issue_alert_something", "x"), ("installation", "updated")],
)
def test_unknown_resources_and_actions_get_200_with_a_reason(hooks, resource, action):
    payload = {"action": action, "installation": {"uuid": str(uuid.uuid4())}, "data": {}}
    response = hooks.post(payload, resource)
    assert response.status_code == 200
    assert "is not acted on" in reply_json(response)["reason"]
    assert hooks.queued() == []


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"{not json", {}, 400, "not valid JSON"),
        (b"[]", {}, 400, ""),
        (json.dumps({"installation": {"uuid": "u"}}).encode(), {}, 400, "action is missing"),
        (
            json.dumps({"action": "created", "installation": {"uuid": "u"}, "data": {}}).encode(),
            {},
            400,
            "data.issue is missing",
        ),
        (
            json.dumps({"action": "created", "installation": {"uuid": "u"}}).encode(),
            {"Sentry-Hook-Resource": ""},
            400,
            "Sentry-Hook-Resource",
        ),
    ],
)
def test_malformed_deliveries_get_400_naming_the_problem(hooks, body, headers, status, reason):
    response = hooks.post(body, "issue", headers=headers)
    assert response.status_code == status
    assert reason in reply_json(response)["error"]
    assert hooks.queued() == []


def test_unknown_ids_get_the_same_401_as_a_wrong_signature(hooks):
    """The answer never tells which integrations and organizations exist."""
    payload = load_fixture("sentryapp_issue_created.json")
    forged = hooks.post(payload, "issue", secret="wrong")
    assert forged.status_code == 401
    for where in (
        {"org": "nope"},
        {"integration": str(uuid.uuid4())},
        {"integration": "not-a-guid"},
        {"org": "Not A Slug"},
    ):
        for secret in (None, "wrong"):
            response = hooks.post(payload, "issue", secret=secret, **where)
            assert response.status_code == 401
            assert reply_json(response) == reply_json(forged)
    assert hooks.queued() == []


def test_a_replayed_installation_created_does_not_attach_an_uninstalled_organization(hooks):
    """Sentry signs only the body: a captured installation.created replays with a fresh
    timestamp. The installation it names was uninstalled, so it attaches nothing; a reinstall
    (a new installation uuid) does."""
    created = load_fixture("sentryapp_installation_created.json")
    created["data"]["installation"]["organization"]["slug"] = DEFAULT_ORG
    old = created["installation"]["uuid"]
    assert hooks.post(created, "installation").status_code == 200
    deleted = load_fixture("sentryapp_installation_deleted.json")
    deleted["data"]["installation"]["uuid"] = deleted["installation"]["uuid"] = old
    deleted["data"]["installation"]["organization"]["slug"] = DEFAULT_ORG
    assert hooks.post(deleted, "installation").status_code == 200
    assert hooks.org().uninstalled

    replayed = hooks.post(created, "installation")
    assert replayed.status_code == 200 and reply_json(replayed)["status"] == "ignored"
    assert hooks.org().uninstalled and hooks.org().installation_uuid == old
    assert hooks.audit()[0]["action"] == "sentry-install-refused"

    new = str(uuid.uuid4())
    created["data"]["installation"]["uuid"] = created["installation"]["uuid"] = new
    assert hooks.post(created, "installation").status_code == 200
    assert not hooks.org().uninstalled and hooks.org().installation_uuid == new


def test_installation_uuids_in_data_and_envelope_must_agree(hooks):
    created = load_fixture("sentryapp_installation_created.json")
    created["data"]["installation"]["organization"]["slug"] = DEFAULT_ORG
    created["installation"]["uuid"] = str(uuid.uuid4())
    response = hooks.post(created, "installation")
    assert response.status_code == 400
    assert hooks.org().installation_uuid is None


def test_a_delivery_for_another_installation_is_refused(hooks):
    installed = str(uuid.uuid4())
    hooks.stores.sentry_orgs.record_installation(hooks.registered.id, DEFAULT_ORG, installed, None)
    payload = load_fixture("sentryapp_issue_created.json")
    payload["installation"]["uuid"] = str(uuid.uuid4())
    response = hooks.post(payload, "issue")
    assert response.status_code == 401
    assert "another installation" in reply_json(response)["error"]
    assert hooks.queued() == []
    payload["installation"]["uuid"] = installed.upper()
    assert hooks.post(payload, "issue").status_code == 202


@pytest.mark.parametrize(
    ("resource", "fixture", "path", "value"),
    [
        ("issue", "sentryapp_issue_created.json", ("data", "issue", "id"), "501\u0000\u001b"),
        ("issue", "sentryapp_issue_created.json", ("data", "issue", "id"), "-3"),
        ("comment", "sentryapp_comment_created.json", ("data", "issue_id"), "12 34"),
        ("comment", "sentryapp_comment_created.json", ("data", "comment_id"), "7\n"),
        (
            "event_alert",
            "sentryapp_event_alert_triggered.json",
            ("data", "event", "issue_id"),
            "501\u0000\u001b",
        ),
    ],
)
def test_malformed_ids_are_400_and_nothing_is_queued(hooks, resource, fixture, path, value):
    payload = load_fixture(fixture)
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value.encode().decode("unicode_escape")
    response = hooks.post(payload, resource)
    assert response.status_code == 400
    assert path[-1] in reply_json(response)["error"]
    assert hooks.queued() == []


def test_a_body_too_large_is_413(hooks):
    response = hooks.post(b" " * (2 * 1024 * 1024 + 1), "issue")
    assert response.status_code == 413


def test_a_very_long_note_is_cut_to_fit_the_queue(hooks):
    payload = load_fixture("sentryapp_comment_created.json")
    payload["data"]["comment"] = "x" * 60_000
    assert hooks.post(payload, "comment").status_code == 202
    (message,) = hooks.queued()
    assert message.comment_truncated and len(message.comment.comment) == 20_000


def test_storage_down_is_503_never_500(hooks, monkeypatch):
    from shared.errors import StorageUnavailable
    from shared.store.storage import Storage

    def down(self, text):
        raise StorageUnavailable("storage answered 503")

    with monkeypatch.context() as patched:
        patched.setattr(Storage, "send_sentry_event", down)
        response = hooks.post(
            load_fixture("sentryapp_issue_created.json"), "issue", request_id="r-2"
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    # Not marked as seen: Sentry's (or a person's) retry is queued.
    assert hooks.post(load_fixture("sentryapp_issue_created.json"), "issue", request_id="r-2").status_code == 202
