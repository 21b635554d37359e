"""WorkItemWebhook.main() against a real Azurite: statuses, queue messages, bad input."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import (
    DEFAULT_ORG,
    basic_auth,
    http_post,
    load_fixture,
    reply_json,
)

from shared.messages.sync import SyncMessage

# fixture -> (status, queued message checks or the reason of a 200)
FIXTURES = {
    "automatisch_workitem_created.json": (200, "event type workitem.created"),
    "automatisch_workitem_deleted.json": (200, "event type workitem.deleted"),
    "automatisch_workitem_restored.json": (200, "event type workitem.restored"),
    "automatisch_workitem_updated.json": (200, "neither System.State nor System.AssignedTo"),
    # Queued whatever the comment setting: SyncStatus decides with the setting current then.
    "msdocs_event_workitem_commented.json": (202, {"workItemId": 5, "rev": 4, "comment": {}}),
    "msdocs_event_workitem_created.json": (200, "event type workitem.created"),
    "msdocs_event_workitem_deleted.json": (200, "event type workitem.deleted"),
    "msdocs_event_workitem_restored.json": (200, "event type workitem.restored"),
    "ojdev_workitem_commented_services.json": (202, {"comment": {}}),
    "ojdev_workitem_updated_title_onprem_server.json": (200, "neither System.State"),
    "msdocs_event_workitem_updated.json": (
        202,
        {
            "workItemId": 5,
            "rev": 2,
            "workItemType": "Bug",
            "projectName": "FabrikamCloud",
            "projectId": "be9b3917-87e6-42a4-a549-2bc06a7a878f",
            "state": {"old": "New", "new": "Approved"},
            "assignee": {"new": {"displayName": "Jamal Hartnet"}},
        },
    ),
    "ojdev_workitem_updated_state_change_services.json": (
        202,
        {"workItemId": 13, "rev": 2, "state": {"old": "New", "new": "Approved"}},
    ),
    "sentry_work_item_updated.json": (
        202,
        {
            "workItemId": 31,
            "rev": 2,
            "assignee": {
                "old": {
                    "displayName": "lauryn2",
                    "uniqueName": "lauryn2@sentry.io",
                    "email": "lauryn2@sentry.io",
                },
                "new": {
                    "displayName": "lauryn",
                    "uniqueName": "lauryn@sentry.io",
                    "email": "lauryn@sentry.io",
                },
            },
        },
    ),
    "sentry_work_item_unassigned.json": (
        202,
        {"workItemId": 33, "rev": 3, "assignee": {"old": {"email": "lauryn@sentry.io"}}},
    ),
    "sentry_work_item_updated_status.json": (
        202,
        {"workItemId": 33, "rev": 3, "state": {"old": "New", "new": "Resolved"}},
    ),
}


def _contains(actual: object, expected: object) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _contains(actual[key], value) for key, value in expected.items()
        )
    return actual == expected


def _work_item_id(payload: dict) -> int:
    resource = payload["resource"]
    return resource.get("workItemId") or resource.get("revision", {}).get("id") or resource["id"]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_fixture_through_main(name, app_env, register, stores):
    payload = load_fixture(name)
    integration = register(payload["resourceContainers"]["collection"]["id"])
    stores.links.add(integration.id, _work_item_id(payload), DEFAULT_ORG, "4242")

    response = http_post(payload, basic_auth(integration.secret))
    status, expected = FIXTURES[name]

    assert response.status_code == status, response.get_body()
    body = reply_json(response)
    queued = app_env.queued()
    if status == 200:
        assert expected in body["reason"]
        assert queued == []
    else:
        assert body["status"] == "queued"
        assert len(queued) == 1
        message = queued[0]
        assert message["v"] == 1
        assert message["integrationId"] == integration.id
        assert _contains(message, expected), message
        if "assignee" not in expected:
            assert "assignee" not in message
        if "state" not in expected:
            assert "state" not in message
        # The message is small and never carries the payload.
        assert len(json.dumps(message)) < 2048
        assert "description" not in json.dumps(message).lower()
        SyncMessage.decode(json.dumps(message))


def _updated(collection_id: str, **changes) -> dict:
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    payload["resourceContainers"]["collection"]["id"] = collection_id
    payload.update(changes)
    return payload


@pytest.fixture
def linked(register, stores):
    integration = register()
    stores.links.add(integration.id, 13, DEFAULT_ORG, "1001")
    return integration


def test_shared_secret_header_is_accepted(app_env, linked):
    response = http_post(_updated(linked.id), {"Shared-Secret": linked.secret})
    assert response.status_code == 202
    assert len(app_env.queued()) == 1


def test_unlinked_work_item_is_acknowledged_and_not_queued(app_env, register):
    integration = register()
    response = http_post(_updated(integration.id), basic_auth(integration.secret))
    assert response.status_code == 200
    assert reply_json(response)["reason"] == "work item is not linked to a Sentry issue"
    assert app_env.queued() == []


def test_a_redelivery_is_queued_again_and_applied_once(app_env, linked, rsps):
    """No marker: the webhook is one range read and one put. The same revision delivered
    twice (an Azure DevOps retry, or another subscription) is queued twice, and SyncStatus
    applies it once (the link's memory)."""
    import azure.functions.queue as func_queue
    from fakes import FakeAzureDevOps, FakeSentry

    import SyncStatus
    from shared.devops_to_sentry.done_states import forget_cached_states

    forget_cached_states()
    FakeAzureDevOps(rsps, linked.pat)
    sentry = FakeSentry(rsps, f"https://{DEFAULT_ORG}.sentry.example/", DEFAULT_ORG,
                        linked.tokens[DEFAULT_ORG])  # fmt: skip
    sentry.add_issue("1001")
    first = _updated(linked.id)
    first["resource"]["fields"]["System.State"] = {"oldValue": "Active", "newValue": "Closed"}
    first["resource"]["revision"]["fields"]["System.State"] = "Closed"
    again = {
        **first,
        "subscriptionId": "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
        "notificationId": 99,
    }
    for payload in (first, first, again):
        assert http_post(payload, basic_auth(linked.secret)).status_code == 202
    queued = app_env.queued()
    assert len(queued) == 3
    for message in queued:
        SyncStatus.main(
            func_queue.QueueMessage(id="m", body=json.dumps(message).encode(), dequeue_count=1)
        )
    assert len(sentry.writes) == 1


def test_next_revision_is_queued(app_env, linked):
    first = _updated(linked.id)
    second = copy.deepcopy(first)
    second["notificationId"] = first["notificationId"] + 1
    second["resource"]["rev"] = 3
    second["resource"]["fields"]["System.State"] = {"oldValue": "Approved", "newValue": "Closed"}
    assert http_post(first, basic_auth(linked.secret)).status_code == 202
    assert http_post(second, basic_auth(linked.secret)).status_code == 202
    assert [m["rev"] for m in app_env.queued()] == [2, 3]


def test_identity_objects_strings_numbers_and_unicode(app_env, linked):
    payload = _updated(linked.id, notificationId="17")
    resource = payload["resource"]
    resource["rev"] = "5"
    resource["workItemId"] = "13"
    resource["fields"]["System.AssignedTo"] = {
        "oldValue": "欧俊 <luacloud@gmail.com>",
        "newValue": {
            "displayName": "Zoë Ångström",
            "uniqueName": "Zoe.Angstrom@Contoso.com",
            "id": "7f3e9c1a-52d4-4b8e-a0c6-2d1f4e5a6b7c",
            "descriptor": "aad.xyz",
        },
    }
    del resource["fields"]["System.State"]
    payload["someFutureField"] = {"nested": [1, 2, 3]}

    response = http_post(payload, basic_auth(linked.secret))

    assert response.status_code == 202, response.get_body()
    (message,) = app_env.queued()
    assert message["rev"] == 5
    assert message["delivery"]["notificationId"] == 17
    assert message["assignee"]["old"] == {
        "displayName": "欧俊",
        "uniqueName": "luacloud@gmail.com",
        "email": "luacloud@gmail.com",
    }
    assert message["assignee"]["new"]["displayName"] == "Zoë Ångström"
    assert message["assignee"]["new"]["email"] == "zoe.angstrom@contoso.com"
    assert "state" not in message


def test_missing_old_value_means_empty_before(app_env, linked):
    payload = _updated(linked.id)
    payload["resource"]["fields"]["System.State"] = {"newValue": "Done"}
    assert http_post(payload, basic_auth(linked.secret)).status_code == 202
    (message,) = app_env.queued()
    assert message["state"] == {"new": "Done"}


def test_reassignment_to_the_same_person_in_another_dialect_is_not_a_change(app_env, linked):
    payload = _updated(linked.id)
    del payload["resource"]["fields"]["System.State"]
    payload["resource"]["fields"]["System.AssignedTo"] = {
        "oldValue": "Ann <ann@contoso.com>",
        "newValue": {"displayName": "Ann B.", "uniqueName": "ANN@contoso.com"},
    }
    response = http_post(payload, basic_auth(linked.secret))
    assert response.status_code == 200
    assert app_env.queued() == []


def test_on_premises_unique_name_has_no_email(app_env, linked):
    payload = _updated(linked.id)
    payload["resource"]["fields"]["System.AssignedTo"] = {
        "newValue": "崔旭东 <LUJING-DEVOPS\\cuixudong>"
    }
    assert http_post(payload, basic_auth(linked.secret)).status_code == 202
    (message,) = app_env.queued()
    assert message["assignee"]["new"] == {
        "displayName": "崔旭东",
        "uniqueName": "LUJING-DEVOPS\\cuixudong",
    }


# -- bad input: each gives a clear error and nothing is queued -------------------------------


def _assert_rejected(response, status: int, reason: str, app_env, queued: int = 0) -> None:
    assert response.status_code == status, response.get_body()
    body = reply_json(response)
    assert set(body) == {"error"}
    assert reason in body["error"]
    assert len(app_env.queued()) == queued
    for secret in app_env.secrets:
        assert secret not in body["error"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[1, 2, 3]", "must be a JSON object"),
        (b'"workitem.updated"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_body_that_is_not_a_json_object(body, reason, app_env, linked):
    _assert_rejected(http_post(body, basic_auth(linked.secret)), 400, reason, app_env)


def test_missing_event_type(app_env, linked):
    payload = _updated(linked.id)
    del payload["eventType"]
    _assert_rejected(
        http_post(payload, basic_auth(linked.secret)), 400, "eventType is missing", app_env
    )


def test_missing_collection_id(app_env, linked):
    payload = _updated(linked.id)
    del payload["resourceContainers"]["collection"]["id"]
    _assert_rejected(
        http_post(payload, basic_auth(linked.secret)),
        400,
        "resourceContainers.collection.id is missing",
        app_env,
    )


def test_missing_resource_containers(app_env, linked):
    payload = _updated(linked.id)
    del payload["resourceContainers"]
    _assert_rejected(
        http_post(payload, basic_auth(linked.secret)), 400, "resourceContainers is missing", app_env
    )


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.update(eventType=42), "eventType"),
        (lambda p: p.update(resourceContainers=[]), "resourceContainers"),
        (lambda p: p["resourceContainers"]["collection"].update(id="not-a-guid"), "not a GUID"),
        (lambda p: p["resourceContainers"]["collection"].update(id=12345), "collection.id"),
        (lambda p: p.update(notificationId="seventeen"), "notificationId"),
        (lambda p: p.update(subscriptionId="x/y"), "subscriptionId"),
        (lambda p: p.update(resource="text"), "resource"),
        (lambda p: p["resource"].update(rev="two"), "resource.rev"),
        (lambda p: p["resource"].pop("rev"), "resource.rev is missing"),
        (lambda p: p["resource"].update(workItemId=None, revision=None), "workItemId is missing"),
        (
            lambda p: p["resource"]["fields"].update({"System.State": {"newValue": ["A"]}}),
            "System.State",
        ),
        (
            lambda p: p["resource"]["fields"].update({"System.AssignedTo": {"newValue": 7}}),
            "System.AssignedTo",
        ),
        (
            lambda p: p["resource"]["fields"].update({"System.State": {"newValue": "x" * 300}}),
            "System.State",
        ),
    ],
)
def test_wrong_types(mutate, reason, app_env, linked):
    payload = _updated(linked.id)
    mutate(payload)
    _assert_rejected(http_post(payload, basic_auth(linked.secret)), 400, reason, app_env)


def test_oversize_body(app_env, linked):
    payload = _updated(linked.id)
    payload["resource"]["revision"]["fields"]["System.Description"] = "x" * (2 * 1024 * 1024)
    _assert_rejected(http_post(payload, basic_auth(linked.secret)), 413, "larger than", app_env)


def test_oversize_declared_length(app_env, linked):
    response = http_post(
        _updated(linked.id), {**basic_auth(linked.secret), "Content-Length": str(50 * 2**20)}
    )
    _assert_rejected(response, 413, "larger than", app_env)


def test_large_description_within_limit_is_fine(app_env, linked):
    payload = _updated(linked.id)
    payload["resource"]["revision"]["fields"]["System.Description"] = "<div>é</div>" * 20_000
    assert http_post(payload, basic_auth(linked.secret)).status_code == 202
    assert len(app_env.queued()) == 1


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic_auth("wrong-secret"),
        {"Shared-Secret": "wrong-secret"},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic " + "QQ=="},  # "A": no colon, no password
    ],
    ids=["none", "basic-wrong", "header-wrong", "basic-garbage", "bearer", "basic-no-password"],
)
def test_missing_or_wrong_secret(headers, app_env, linked):
    _assert_rejected(http_post(_updated(linked.id), headers), 401, "webhook secret", app_env)


def test_rotation_keeps_previous_secret_until_finished(app_env, linked, stores, monkeypatch):
    import shared.store.integrations

    now = [1000.0]
    monkeypatch.setattr(shared.store.integrations, "_clock", lambda: now[0])
    old = linked.secret
    new = stores.integrations.rotate_secret(linked.id)
    app_env.secrets.append(new)

    payload = _updated(linked.id)
    assert http_post(payload, basic_auth(old)).status_code == 202
    payload["resource"]["rev"] = 3
    payload["notificationId"] += 1
    assert http_post(payload, basic_auth(new)).status_code == 202

    stores.integrations.finish_rotation(linked.id)
    payload["resource"]["rev"] = 4
    payload["notificationId"] += 1
    # The integration row is cached for a few seconds: finishing takes effect once it expires.
    now[0] += shared.store.integrations.INTEGRATION_MAX_AGE + 1
    _assert_rejected_keeps_queue(http_post(payload, basic_auth(old)), 401, app_env, 2)
    assert http_post(payload, basic_auth(new)).status_code == 202


def test_a_freshly_rotated_secret_works_at_once_despite_the_cache(app_env, linked, stores):
    payload = _updated(linked.id)
    assert http_post(payload, basic_auth(linked.secret)).status_code == 202  # now cached
    new = stores.integrations.rotate_secret(linked.id)
    stores.integrations.finish_rotation(linked.id)
    app_env.secrets.append(new)
    payload["resource"]["rev"] = 3
    payload["notificationId"] += 1
    assert http_post(payload, basic_auth(new)).status_code == 202


def test_removal_is_seen_once_the_cached_row_expires(app_env, linked, stores, monkeypatch):
    import shared.store.integrations

    now = [1000.0]
    monkeypatch.setattr(shared.store.integrations, "_clock", lambda: now[0])
    payload = _updated(linked.id)
    assert http_post(payload, basic_auth(linked.secret)).status_code == 202
    stores.integrations.remove(linked.id)
    now[0] += shared.store.integrations.INTEGRATION_MAX_AGE + 1
    payload["resource"]["rev"] = 3
    _assert_rejected(
        http_post(payload, basic_auth(linked.secret)), 410, "removed", app_env, queued=1
    )


def _assert_rejected_keeps_queue(response, status, app_env, count) -> None:
    assert response.status_code == status
    assert len(app_env.queued()) == count


def test_a_second_rotation_retires_the_oldest_secret(app_env, linked, stores):
    first = linked.secret
    second = stores.integrations.rotate_secret(linked.id)
    third = stores.integrations.rotate_secret(linked.id)
    app_env.secrets += [second, third]
    payload = _updated(linked.id)
    assert http_post(payload, basic_auth(first)).status_code == 401
    assert http_post(payload, basic_auth(second)).status_code == 202


def test_unknown_integration(app_env, linked):
    payload = _updated("6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11")
    _assert_rejected(
        http_post(payload, basic_auth(linked.secret)), 404, "unknown integration", app_env
    )


def test_removed_integration_answers_410(app_env, linked, stores):
    stores.integrations.remove(linked.id)
    _assert_rejected(
        http_post(_updated(linked.id), basic_auth(linked.secret)), 410, "removed", app_env
    )


def test_storage_unreachable_gives_503_with_retry_after(app_env, monkeypatch):
    monkeypatch.setenv(
        "AzureWebJobsStorage",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        "QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;",
    )
    response = http_post(_updated("6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11"), basic_auth("s"))
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert set(reply_json(response)) == {"error"}


def test_missing_storage_setting_gives_503(app_env, monkeypatch, linked):
    monkeypatch.delenv("AzureWebJobsStorage")
    response = http_post(_updated(linked.id), basic_auth(linked.secret))
    assert response.status_code == 503


def test_enqueue_failure_gives_503_and_writes_no_marker(app_env, linked, monkeypatch):
    from shared.errors import StorageUnavailable
    from shared.store.storage import Storage

    real_send = Storage.send

    def failing_send(self, text):
        raise StorageUnavailable("queue down")

    payload = _updated(linked.id)
    monkeypatch.setattr(Storage, "send", failing_send)
    response = http_post(payload, basic_auth(linked.secret))
    assert response.status_code == 503
    assert "Retry-After" in response.headers
    assert app_env.queued() == []

    # Azure DevOps retries the same delivery: it must be queued, not taken for a duplicate.
    monkeypatch.setattr(Storage, "send", real_send)
    assert http_post(payload, basic_auth(linked.secret)).status_code == 202
    assert len(app_env.queued()) == 1


def test_unexpected_bug_is_a_503_not_a_500(app_env, linked, monkeypatch):
    import shared.devops_intake.work_item_updated

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(shared.devops_intake.work_item_updated, "change_from_update", broken)
    response = http_post(_updated(linked.id), basic_auth(linked.secret))
    assert response.status_code == 503
    assert b"boom" not in response.get_body()
    assert b"Traceback" not in response.get_body()


def test_a_link_removed_a_moment_ago_costs_at_most_a_message_syncstatus_skips(app_env, linked,
                                                                               stores):
    """The webhook remembers "linked" for a minute (not "not linked"): a delivery right after
    the link is removed is queued, and SyncStatus, which reads the links itself, skips it."""
    import azure.functions.queue as func_queue

    import SyncStatus
    from shared.store.audit import AuditLog

    assert http_post(_updated(linked.id), basic_auth(linked.secret)).status_code == 202
    stores.links.remove(linked.id, 13, DEFAULT_ORG, "1001")
    later = _updated(linked.id)
    later["resource"]["rev"] = 3
    assert http_post(later, basic_auth(linked.secret)).status_code == 202
    (_, stale) = app_env.queued()
    SyncStatus.main(func_queue.QueueMessage(id="m", body=json.dumps(stale).encode(),
                                            dequeue_count=1))  # fmt: skip
    reasons = [row["reason"] for row in AuditLog(app_env.storage()).read(linked.id)]
    assert "work item is not linked to a Sentry issue" in reasons
    # A work item never linked is always read: its deliveries are never queued.
    other = _updated(linked.id)
    other["resource"]["workItemId"] = 14
    assert http_post(other, basic_auth(linked.secret)).status_code == 200
