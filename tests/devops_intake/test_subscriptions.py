"""Service hook subscriptions (create, list, check and repair) and reconcile, with Azure DevOps
and Sentry faked by `responses` and a real Azurite."""

from __future__ import annotations

import io
import json

import pytest
from azure.functions.timer import TimerRequest
from conftest import basic_auth, http_post, load_fixture
from fakes import FakeAzureDevOps, FakeSentry

import SubscriptionCheck
from shared.cli import main as cli
from shared.devops_to_sentry.done_states import forget_cached_states
from shared.store.audit import AuditLog

HOOK_URL = "https://sync-app.example/api/workitems/webhook"
KEY = ("--key-setting", "WEBHOOK_FUNCTION_KEY")


@pytest.fixture
def world(app_env, register, stores, rsps, monkeypatch):
    integration = register(orgs=("acme",))
    monkeypatch.setenv("WEBHOOK_FUNCTION_KEY", "function-key-value")
    app_env.secrets.append("function-key-value")
    ado = FakeAzureDevOps(rsps, integration.pat)
    sentry = FakeSentry(rsps, "https://acme.sentry.example/", "acme", integration.tokens["acme"])
    forget_cached_states()
    return integration, stores, ado, sentry


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


def _password(ado: FakeAzureDevOps, sub_id: str) -> str:
    return ado.subscriptions[sub_id]["consumerInputs"]["basicAuthPassword"]


def _webhook_accepts(collection_id: str, secret: str) -> bool:
    payload = load_fixture("automatisch_workitem_created.json")
    payload["resourceContainers"]["collection"]["id"] = collection_id
    return http_post(payload, basic_auth(secret)).status_code == 200


def test_create_posts_the_subscription_and_prints_the_new_secret_once(app_env, world):
    integration, stores, ado, _ = world
    code, out, err = run(
        "subscription", "create", integration.id, "--url", HOOK_URL,
        "--key-setting", "WEBHOOK_FUNCTION_KEY", "--project", "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    )  # fmt: skip
    assert code == 0, err
    ((method, path, body),) = [(c.method, c.path, c.body) for c in ado.calls]
    assert (method, path) == ("POST", "/contoso/_apis/hooks/subscriptions?api-version=7.1")
    secret = body["consumerInputs"]["basicAuthPassword"]
    app_env.secrets.append(secret)
    assert body == {
        "publisherId": "tfs",
        "eventType": "workitem.updated",
        "resourceVersion": "1.0",
        "consumerId": "webHooks",
        "consumerActionId": "httpRequest",
        "status": "enabled",
        "publisherInputs": {"projectId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"},
        "consumerInputs": {
            "url": HOOK_URL + "?code=function-key-value",
            "basicAuthUsername": "azure-devops",
            "basicAuthPassword": secret,
            "messagesToSend": "none",
            "detailedMessagesToSend": "none",
        },
    }
    # The new secret is printed once (the person may be testing with the previous one); the
    # function key never.
    assert f"New webhook secret (shown once, store it now): {secret}\n" in out
    assert "function-key-value" not in out
    shown = stores.integrations.get(integration.id)
    assert [s.id for s in shown.subscriptions] == ["sub-1"]
    assert shown.hook_url == HOOK_URL
    # The secret handed to Azure DevOps is the one the webhook now accepts; the old one too,
    # until the rotation is finished.
    assert _webhook_accepts(integration.id, secret)
    assert _webhook_accepts(integration.id, integration.secret)


def test_a_second_subscription_rolls_the_new_secret_out_to_the_first(app_env, world):
    integration, _, ado, _ = world
    run("subscription", "create", integration.id, "--url", HOOK_URL, *KEY)
    first_secret = _password(ado, "sub-1")
    run("subscription", "create", integration.id)
    app_env.secrets += [first_secret, _password(ado, "sub-2")]
    assert _password(ado, "sub-1") == _password(ado, "sub-2") != first_secret
    put = [c for c in ado.calls if c.method == "PUT"]
    assert [c.path.split("?")[0] for c in put] == ["/contoso/_apis/hooks/subscriptions/sub-1"]
    assert put[0].body["status"] == "enabled"


def test_create_refuses_a_url_with_a_key_in_it(world):
    integration, *_ = world
    code, _, err = run("subscription", "create", integration.id, "--url", HOOK_URL + "?code=x")
    assert code == 1
    assert "without a query" in err


@pytest.mark.parametrize(
    ("status", "repaired"),
    [
        ("enabled", False),
        ("onProbation", True),
        ("disabledBySystem", True),
        ("disabledByInactiveIdentity", True),
        ("disabledByUser", False),
        ("missing", True),
    ],
)
def test_check_repairs_what_azure_devops_broke(app_env, world, status, repaired):
    integration, stores, ado, _ = world
    run("subscription", "create", integration.id, "--url", HOOK_URL, *KEY)
    old_secret = _password(ado, "sub-1")
    app_env.secrets.append(old_secret)
    if status == "missing":
        del ado.subscriptions["sub-1"]
    else:
        ado.subscriptions["sub-1"]["status"] = status
    code, out, _ = run("subscription", "list", integration.id)
    assert json.loads(out) == [
        {"id": "sub-1", "projectId": None, "eventType": "workitem.updated", "status": status}
    ]
    ado.calls.clear()

    code, out, err = run("subscription", "check", integration.id)
    assert code == 0, err
    actions = json.loads(out)[integration.id]
    audit = AuditLog(app_env.storage()).read(integration.id)
    if not repaired:
        assert [c.method for c in ado.calls] == ["GET"]
        assert all("subscription-create" == row["action"] for row in audit)
        if status == "disabledByUser":
            assert actions == ["subscription sub-1 was disabled by a user; left alone"]
        return
    (current_id,) = [s.id for s in stores.integrations.get(integration.id).subscriptions]
    current = ado.subscriptions[current_id]
    app_env.secrets.append(current["consumerInputs"]["basicAuthPassword"])
    assert current["status"] == "enabled"
    assert current["consumerInputs"]["basicAuthPassword"] != old_secret
    assert _webhook_accepts(integration.id, current["consumerInputs"]["basicAuthPassword"])
    assert _webhook_accepts(integration.id, old_secret)  # still valid during the rollout
    assert [row["action"] for row in audit][-1] == "subscription-create"
    if status == "missing":
        assert current_id == "sub-2"
        assert audit[0]["action"] == "subscription-recreate"
    else:
        assert current_id == "sub-1"
        assert audit[0]["action"] == "subscription-enable"
        assert f"({status})" in audit[0]["reason"]
    assert actions[-1].startswith("reconciled: queued 0")


def test_timer_function_checks_every_integration(app_env, world):
    integration, _, ado, _ = world
    run("subscription", "create", integration.id, "--url", HOOK_URL, *KEY)
    ado.subscriptions["sub-1"]["status"] = "disabledBySystem"
    app_env.secrets.append(_password(ado, "sub-1"))
    SubscriptionCheck.main(TimerRequest())
    assert ado.subscriptions["sub-1"]["status"] == "enabled"
    app_env.secrets.append(_password(ado, "sub-1"))


def _update(rev: int, **fields) -> dict:
    """A work item update as ``GET .../updates`` returns it (identities as objects)."""
    return {
        "id": rev,
        "workItemId": 13,
        "rev": rev,
        "revisedBy": {"displayName": "Priya Raman", "uniqueName": "priya@contoso.com"},
        "fields": {"System.Rev": {"oldValue": rev - 1, "newValue": rev}, **fields},
    }


def _sync_all(app_env) -> None:
    """Run SyncStatus on every queued message and take it off the queue, as the host does."""
    import azure.functions.queue as func_queue

    import SyncStatus

    queue = app_env.storage().queue
    for message in queue.receive_messages(max_messages=32):
        SyncStatus.main(
            func_queue.QueueMessage(id=message.id, body=message.content.encode(), dequeue_count=1)
        )
        queue.delete_message(message)


def test_reconcile_catches_a_change_lost_during_probation_and_applies_it_once(app_env, world):
    integration, stores, ado, sentry = world
    sentry.add_issue("101")
    sentry.members["priya@contoso.com"] = "42"
    stores.links.add(integration.id, 13, "acme", "101")
    stores.links.add(integration.id, 14, "acme", "102")  # unchanged work item
    sentry.add_issue("102")
    ado.work_items[13] = {"System.WorkItemType": "Bug", "System.TeamProject": "Fabrikam"}
    ado.work_items[14] = {"System.WorkItemType": "Bug", "System.TeamProject": "Fabrikam"}

    # Rev 2 arrived by service hook; then the subscription was on probation: revs 3-5 lost.
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    payload["resourceContainers"]["collection"]["id"] = integration.id
    payload["resource"]["fields"]["System.State"] = {"oldValue": "New", "newValue": "Active"}
    assert http_post(payload, basic_auth(integration.secret)).status_code == 202
    _sync_all(app_env)
    ado.revs.update({13: 5, 14: 1})
    ado.updates[13] = [
        _update(1, **{"System.State": {"newValue": "New"}}),
        _update(2, **{"System.State": {"oldValue": "New", "newValue": "Active"}}),
        _update(3, **{"System.Title": {"oldValue": "a", "newValue": "b"}}),
        _update(
            4,
            **{
                "System.AssignedTo": {
                    "newValue": {"displayName": "Priya Raman", "uniqueName": "priya@contoso.com"}
                }
            },
        ),
        _update(5, **{"System.State": {"oldValue": "Active", "newValue": "Closed"}}),
    ]

    code, out, err = run("reconcile", integration.id, "--dry-run")
    assert code == 0, err
    would = json.loads(out)["would queue"]
    assert [(m["workItemId"], m["rev"]) for m in would] == [(13, 4), (13, 5)]
    assert would[0]["assignee"] == "priya@contoso.com"
    assert would[1]["why"] == (
        "revision 5 moved the state from Active to Closed, is newer than what the app knows of "
        "the work item, and no delivery of it arrived"
    )
    assert app_env.queued() == []  # a dry run writes nothing

    code, out, _ = run("reconcile", integration.id)
    assert [m["rev"] for m in json.loads(out)["queued"]] == [4, 5]
    _sync_all(app_env)
    assert sentry.issues["101"]["status"] == "resolved"
    assert sentry.issues["101"]["assignee"] == "42"
    writes = len(sentry.writes)

    # Run again: nothing is lost any more, nothing is queued, nothing is written, and work
    # items whose revision we know cost no updates call.
    ado.calls.clear()
    code, out, _ = run("reconcile", integration.id)
    assert json.loads(out) == {
        "queued": [],
        "corrections queued": [],
        "swept": {"links": 2, "sentryReads": 1},
    }
    assert app_env.queued() == []
    assert len(sentry.writes) == writes
    assert [c.path.split("?")[0] for c in ado.calls] == ["/contoso/_apis/wit/workitemsbatch"]
    batches = [c for c in ado.calls if "workitemsbatch" in c.path]
    assert all(len(c.body["ids"]) <= 200 for c in batches)


def test_reconcile_reads_work_items_200_at_a_time(app_env, world):
    integration, stores, ado, _ = world
    for work_item in range(1, 202):
        stores.links.add(integration.id, work_item, "acme", str(work_item))
        ado.work_items[work_item] = {"System.WorkItemType": "Bug", "System.TeamProject": "P"}
    code, out, _ = run("reconcile", integration.id, "--dry-run")
    shown = json.loads(out)
    assert (code, shown["would queue"], shown["would correct"]) == (0, [], [])
    assert shown["swept"] == {"links": 201, "sentryReads": 3}  # 100 issues per Sentry read
    batches = [len(c.body["ids"]) for c in ado.calls if "workitemsbatch" in c.path]
    assert batches == [200, 1]


def test_a_comment_subscription_is_created_and_repaired_as_one(app_env, world):
    integration, _, ado, _ = world
    for event in ("workitem.updated", "workitem.commented"):
        code, _, err = run("subscription", "create", integration.id, "--url", HOOK_URL, *KEY,
                           "--event", event)  # fmt: skip
        assert code == 0, err
    assert [s["eventType"] for s in ado.subscriptions.values()] == [
        "workitem.updated",
        "workitem.commented",
    ]
    for sub in ado.subscriptions.values():
        app_env.secrets.append(sub["consumerInputs"]["basicAuthPassword"])
    del ado.subscriptions["sub-2"]  # someone deleted the comment subscription
    code, _, err = run("subscription", "check", integration.id)
    assert code == 0, err
    (recreated,) = [s for s in ado.subscriptions.values() if s["id"] not in ("sub-1",)]
    assert recreated["eventType"] == "workitem.commented"
    for sub in ado.subscriptions.values():
        app_env.secrets.append(sub["consumerInputs"]["basicAuthPassword"])
    listed = json.loads(run("subscription", "list", integration.id)[1])
    assert sorted(s["eventType"] for s in listed) == ["workitem.commented", "workitem.updated"]


def test_create_without_a_function_key_is_refused_and_says_why(world):
    integration, stores, ado, _ = world
    code, out, err = run("subscription", "create", integration.id, "--url", HOOK_URL)
    assert code == 1 and out == ""
    assert "authLevel function" in err and "401" in err and "--key-setting" in err
    assert ado.calls == []  # nothing created in Azure DevOps
    shown = stores.integrations.get(integration.id)
    assert shown.hook_url is None and shown.subscriptions == ()  # nothing stored


def test_an_anonymous_function_on_the_local_host_can_be_subscribed(world):
    integration, stores, ado, _ = world
    local = "http://127.0.0.1:7071/api/workitems/webhook"
    code, _, err = run("subscription", "create", integration.id, "--url", local, "--anonymous")
    assert code == 0, err
    assert ado.subscriptions["sub-1"]["consumerInputs"]["url"] == local  # no ?code=
    assert stores.integrations.get(integration.id).hook_anonymous


@pytest.mark.parametrize(
    ("url", "extra", "says"),
    [
        ("http://sync-app.example/api/workitems/webhook", KEY, "https://"),
        (HOOK_URL, ("--key-setting", "K", "--anonymous"), "not allowed with"),
        (HOOK_URL, ("--key-setting", "not a name"), "setting"),
    ],
)
def test_bad_webhook_urls_and_keys_are_refused(world, url, extra, says):
    integration, stores, ado, _ = world
    try:
        code, _, err = run("subscription", "create", integration.id, "--url", url, *extra)
    except SystemExit as exc:  # argparse refuses the pair itself
        code, err = 1 if exc.code else 0, says
    assert code != 0 and says in err
    assert ado.calls == [] and stores.integrations.get(integration.id).hook_url is None


def test_reconcile_leaves_out_creations_and_the_apps_own_writes(app_env, world):
    """Neither is a change to carry to Sentry: a creation precedes any link, and the app's
    own revisions (moving the work item to Sentry's state) came from Sentry."""
    integration, stores, ado, sentry = world
    run("integration", "sync", integration.id, "--status-to-devops", "on")
    sentry.add_issue("101")
    stores.links.add(integration.id, 13, "acme", "101")
    ado.work_items[13] = {"System.WorkItemType": "Bug", "System.TeamProject": "Fabrikam"}
    ado.revs[13] = 3
    ours = {"displayName": "Sync bot", "uniqueName": ado.account}
    ado.updates[13] = [
        _update(1, **{"System.State": {"newValue": "New"}}),
        {**_update(2, **{"System.State": {"oldValue": "New", "newValue": "Resolved"}}),
         "revisedBy": ours},
        _update(3, **{"System.State": {"oldValue": "Resolved", "newValue": "Active"}}),
    ]  # fmt: skip
    code, out, err = run("reconcile", integration.id, "--dry-run")
    assert code == 0, err
    assert [m["rev"] for m in json.loads(out)["would queue"]] == [3]
