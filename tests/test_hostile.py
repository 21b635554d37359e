"""Hostile input found by sending ~29,000 requests: each defect, its clear error, and proof
that nothing was queued or half-written."""

from __future__ import annotations

import base64
import io
import json

import pytest
from conftest import basic_auth, http_post, load_fixture, reply_json
from world import World

from shared.cli import main as cli
from shared.doors import RetryLater
from shared.store.audit import UNREADABLE_PARTITION, AuditLog
from shared.store.poison import PoisonQueue
from shared.store.storage import LINKS

INT32_MAX = 2**31 - 1


def _run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def linked(app_env, register, stores):
    integration = register()
    stores.links.add(integration.id, 13, "acme", "101")
    return integration


def _delivery(integration) -> dict:
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    payload["resourceContainers"]["collection"]["id"] = integration.id
    return payload


def _nothing_written(app_env, integration) -> None:
    assert app_env.queued() == []
    rows = app_env.storage().table(LINKS).query_entities(
        "PartitionKey eq @pk", parameters={"pk": integration.id}
    )
    assert [row["RowKey"] for row in rows if "~" in row["RowKey"]] == []  # no marker


# -- 1. numbers past 32 bits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("rev", INT32_MAX + 1),
        ("rev", 2**63),
        ("notificationId", INT32_MAX + 1),
        ("workItemId", INT32_MAX + 1),
        ("rev", -1),
    ],
)
def test_numbers_past_32_bits_are_refused_before_anything_is_queued(
    app_env, linked, where, value
):
    payload = _delivery(linked)
    if where == "notificationId":
        payload["notificationId"] = value
    else:
        payload["resource"][where] = value
    response = http_post(payload, basic_auth(linked.secret))
    assert response.status_code == 400
    assert where in reply_json(response)["error"]
    _nothing_written(app_env, linked)


def test_the_largest_32_bit_numbers_are_stored(app_env, linked, stores):
    payload = _delivery(linked)
    payload["resource"]["rev"] = INT32_MAX
    payload["notificationId"] = INT32_MAX
    assert http_post(payload, basic_auth(linked.secret)).status_code == 202
    assert [m["rev"] for m in app_env.queued()] == [INT32_MAX]
    from shared.store.deliveries import Deliveries  # reconcile's marker of such a revision

    Deliveries(app_env.storage()).record(linked.id, 13, INT32_MAX, notification_id=INT32_MAX)


# -- 2. ids without caps -------------------------------------------------------------------------


@pytest.mark.parametrize("project_id", ["x" * 509, "x" * 50_000, "not-a-guid", "", ".."])
def test_project_ids_must_be_guids(app_env, linked, project_id):
    payload = _delivery(linked)
    payload["resourceContainers"]["project"]["id"] = project_id
    response = http_post(payload, basic_auth(linked.secret))
    assert response.status_code == 400
    assert reply_json(response)["error"].startswith("resourceContainers.project.id")
    assert "x" * 100 not in response.get_body().decode()  # the value is not echoed
    _nothing_written(app_env, linked)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("System.TeamProject", ".."),
        ("System.TeamProject", "."),
        ("System.WorkItemType", ".."),
        ("System.WorkItemType", "Bug\x00"),
        ("System.TeamProject", "p" * 257),
    ],
)
def test_names_that_would_change_a_url_path_are_refused(app_env, linked, field, value):
    payload = _delivery(linked)
    payload["resource"]["revision"]["fields"][field] = value
    response = http_post(payload, basic_auth(linked.secret))
    assert response.status_code == 400
    assert field in reply_json(response)["error"]
    _nothing_written(app_env, linked)


# -- 3. undecodable credentials ------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    ["Basic \xe9", "Basic \xe9\xe9\xe9\xe9", "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()],
)
def test_undecodable_basic_auth_is_401(app_env, linked, authorization):
    response = http_post(_delivery(linked), {"Authorization": authorization})
    assert (response.status_code, reply_json(response)) == (
        401,
        {"error": "missing or wrong webhook secret"},
    )
    _nothing_written(app_env, linked)


# -- 4. Unicode digits ---------------------------------------------------------------------------


@pytest.mark.parametrize("work_item", ["\u0661\u0662", "\u00b2", "\uff11\uff12", "12\u00b2"])
def test_cli_takes_ascii_digits_only(app_env, linked, work_item):
    code, _, err = _run_cli("link", "add", linked.id, "--work-item", work_item, "--org", "acme",
                            "--issue", "7")  # fmt: skip
    assert code == 1
    assert "is not a work item id" in err
    code, out, _ = _run_cli("link", "list", linked.id)
    assert [link["workItemId"] for link in json.loads(out)] == [13]


# -- 6. every path to poison writes an audit row ---------------------------------------------------


@pytest.fixture
def world(app_env, register, stores, rsps, waits):
    return World(app_env, register, stores, rsps)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"integrationId": "not-a-guid"}, "integrationId: "),
        ({"workItemId": INT32_MAX + 1}, "workItemId: "),
        ({"rev": 2**40}, "rev: "),
        ({"projectName": "x" * 5000}, "projectName: "),
        ({"projectName": ".."}, "projectName: "),
        ({"state": {"old": "New", "new": "s" * 2000}}, "state.new: "),
        ({"integrationId": None}, "integrationId: "),
    ],
)
def test_unacceptable_sync_messages_go_to_poison_at_once_with_an_audit_row(world, change, reason):
    world.link(5, world.acme, "101")
    message = json.loads(world.message().encode())
    message.update(change)
    if message["integrationId"] is None:
        del message["integrationId"]
        reason = "integrationId is missing"
    text = json.dumps(message)
    world.run(text)  # not raised: no retry can make it readable
    (parked,) = PoisonQueue(world.env.storage()).peek()
    assert parked.text == text
    partition = world.id if change.get("integrationId", world.id) == world.id else None
    rows = AuditLog(world.env.storage()).read(partition or UNREADABLE_PARTITION)
    assert rows[0]["outcome"] == "poisoned"
    assert rows[0]["reason"].startswith(f"unreadable sync message: {reason}")
    assert world.acme.calls == [] and world.ado.calls == []
    assert world.link_row(5, "acme", "101").state_rev == 0


def test_an_unexpected_error_is_retried_then_parked_with_an_audit_row(world, monkeypatch):
    from shared.devops_to_sentry import sync

    world.link(5, world.acme, "101")

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(sync.Syncer, "apply", broken)
    for attempt in range(1, 5):
        with pytest.raises(RetryLater):
            world.run(world.message(), dequeue_count=attempt)
    world.run(world.message(), dequeue_count=5)
    (parked,) = PoisonQueue(world.env.storage()).peek()
    assert json.loads(parked.text)["workItemId"] == 5
    row = world.audit(5)[0]
    assert (row["outcome"], row["error"]) == ("poisoned", "KeyError")


# -- 7. the CLI says what is wrong instead of a traceback --------------------------------------------


def test_cli_value_too_large_for_the_table(app_env, linked):
    code, _, err = _run_cli(
        "integration", "update", linked.id, "--base-url", f"https://{'a' * 40_000}/"
    )
    assert code == 1
    assert err.startswith("error: the Azure DevOps base URL is longer than 2048 characters")


def test_cli_value_over_64_kib_reaching_storage(app_env, linked):
    code, _, err = _run_cli("integration", "update", linked.id, "--name", "n" * 100_000)
    assert code == 0  # names are cut to 200 characters
    code, _, err = _run_cli(
        "integration", "done-states", linked.id, "--project", "p", "--type", "Bug",
        "--states", ",".join(f"state-{i:05d}" * 4 for i in range(2000)),
    )  # fmt: skip
    assert code == 1
    assert err.startswith("error: storage refused the request (400")


@pytest.mark.parametrize(
    ("connection", "message"),
    [
        ("foo", "error: app setting AzureWebJobsStorage is not a storage connection string"),
        (None, "error: storage refused the request (403"),
    ],
)
def test_cli_bad_storage_settings(app_env, monkeypatch, connection, message):
    if connection is None:  # the right account, a wrong key
        wrong_key = "AccountKey=" + base64.b64encode(b"w" * 64).decode()
        connection = ";".join(
            wrong_key if part.startswith("AccountKey=") else part
            for part in app_env.connection_string.split(";")
        )
    monkeypatch.setenv("AzureWebJobsStorage", connection)
    code, out, err = _run_cli("integration", "list")
    assert (code, out) == (1, "")
    assert err.startswith(message), err
    assert "Traceback" not in err


# -- 8. names in URL paths --------------------------------------------------------------------------


@pytest.mark.parametrize(("project", "kind"), [("..", "Bug"), ("Fabrikam", ".."), (".", "Bug")])
def test_dot_segments_never_reach_azure_devops(world, project, kind):
    from shared.clients import azure_devops_client
    from shared.http import ApiRejected

    integration = world.stores.integrations.get(world.id)
    with pytest.raises(ApiRejected, match="cannot be used as a name in a URL path"):
        azure_devops_client(integration).work_item_type_states(project, kind)
    with pytest.raises(ApiRejected, match=r"refusing a URL path with \. or \.\. segments"):
        azure_devops_client(integration).request("GET", "a/../_apis/x", idempotent=True)
    assert world.ado.calls == []


# -- what a new user stumbled on ---------------------------------------------------------------------


def test_cli_reads_local_settings_and_the_environment_wins(app_env, tmp_path, monkeypatch):
    from shared import settings

    for name in ("ADO_PAT_FROM_FILE", "SYNC_QUEUE_NAME"):
        monkeypatch.setenv(name, "x")
        monkeypatch.delenv(name)  # restored to "unset" after the test
    local = tmp_path / "local.settings.json"
    local.write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {
                    "AzureWebJobsStorage": "not the one the environment gives",
                    "ADO_PAT_FROM_FILE": "pat-from-file",
                },
            }
        )
    )
    monkeypatch.setattr(settings, "LOCAL_SETTINGS", local)
    code, out, err = _run_cli("integration", "list")
    assert (code, out) == (0, "[]\n"), err  # the environment's storage was used
    import os

    assert os.environ["ADO_PAT_FROM_FILE"] == "pat-from-file"
    local.write_text("{not json")
    code, _, err = _run_cli("integration", "list")
    assert code == 1 and err.startswith("error: local.settings.json could not be read")


def test_a_placeholder_token_is_refused_by_name(world, monkeypatch):
    monkeypatch.setenv(
        "SENTRY_TOKEN_ACME", "<a Sentry token with event:write and member:read scopes>"
    )
    world.link(5, world.acme, "101")
    with pytest.raises(RetryLater):
        world.run(world.message())
    assert world.acme.calls == []
    row = world.audit(5)[0]
    assert "app setting SENTRY_TOKEN_ACME still holds a placeholder" in row["reason"]


def test_api_errors_name_the_call(world):
    from shared.clients import azure_devops_client
    from shared.http import ApiNotFound

    integration = world.stores.integrations.get(world.id)
    with pytest.raises(ApiNotFound) as caught:
        azure_devops_client(integration).work_item_fields(999_999, ["System.Title"])
    assert str(caught.value) == (
        "azure-devops: GET /contoso/_apis/wit/workitems/999999: not found (404)"
    )
