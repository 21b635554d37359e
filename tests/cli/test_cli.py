"""The admin CLI against a real Azurite: every command, and clear errors for bad input."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys

import pytest
from conftest import ROOT, basic_auth, http_post, load_fixture
from fakes import FakeAzureDevOps, FakeSentry

from shared.cli import main as cli
from shared.store.integrations import forget_cached_integrations

COLLECTION = "2245531e-4735-4f13-81d1-a4a33d5532a1"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _secret_from(output: str) -> str:
    match = re.search(r"webhook secret \(shown once, store it now\): (\S+)", output)
    assert match, output
    return match[1]


@pytest.fixture
def added(app_env, monkeypatch, rsps):
    """The integration, with Azure DevOps and Sentry faked: work items and issues 1-29 exist."""
    secret = add_integration(app_env, monkeypatch)
    ado = FakeAzureDevOps(rsps, "pat-value-never-printed", base_url="https://dev.azure.com/ouno/")
    sentry = FakeSentry(rsps, "https://us.sentry.io/", "acme", "sntrys_token_never_printed")
    for n in range(1, 30):
        ado.work_items[n] = {"System.TeamProject": "Fabrikam", "System.Title": f"Item {n}"}
        sentry.add_issue(str(n))
    return secret


def add_integration(app_env, monkeypatch) -> str:
    """Integration COLLECTION with Sentry organization acme; returns the webhook secret."""
    monkeypatch.setenv("ADO_PAT_OUNO", "pat-value-never-printed")
    monkeypatch.setenv("SENTRY_TOKEN_ACME", "sntrys_token_never_printed")
    app_env.secrets += ["pat-value-never-printed", "sntrys_token_never_printed"]
    code, out, err = run(
        "integration", "add", COLLECTION.upper(),
        "--base-url", "https://dev.azure.com/ouno",
        "--pat-setting", "ADO_PAT_OUNO",
        "--name", "Ouno",
    )  # fmt: skip
    assert code == 0, err
    secret = _secret_from(out)
    app_env.secrets.append(secret)
    code, out, err = run(
        "integration", "sentry-add", COLLECTION,
        "--org", "acme", "--base-url", "https://us.sentry.io", "--token-setting", "SENTRY_TOKEN_ACME",
    )  # fmt: skip
    assert code == 0, err
    return secret


def test_add_show_list(app_env, added):
    code, out, _ = run("integration", "show", COLLECTION)
    assert code == 0
    shown = json.loads(out)
    assert shown == {
        "id": COLLECTION,
        "name": "Ouno",
        "baseUrl": "https://dev.azure.com/ouno/",
        "patSetting": "ADO_PAT_OUNO",
        "resolution": "resolved",
        "searchUrl": None,
        "sentryAppSecretSetting": None,
        "hookUrl": None,
        "hookKeySetting": None,
        "hookAnonymous": False,
        "subscriptions": [],
        "status": "active",
        "rotationInProgress": False,
        "createdAt": shown["createdAt"],
        "removedAt": None,
        "sentryOrgs": [
            {
                "slug": "acme",
                "baseUrl": "https://us.sentry.io/",
                "tokenSetting": "SENTRY_TOKEN_ACME",
                "clientSecretSetting": None,
                "installationUuid": None,
                "status": "active",
            }
        ],
        "doneStates": [],
        "fieldMaps": [],
        "resolveStates": [],
        "sync": {
            "status-to-sentry": True,
            "assignee-to-sentry": True,
            "status-to-devops": False,
            "assignee-to-devops": False,
            "comments": False,
            "failure-notes": False,
            "regression": "default (comment)",
        },
    }
    code, out, _ = run("integration", "list")
    assert [i["id"] for i in json.loads(out)] == [COLLECTION]
    assert json.loads(out)[0]["sentryOrgs"] == shown["sentryOrgs"] != []  # as show has them
    # Nothing printed after creation reveals a secret or its hash.
    assert added not in out
    assert "sha256" not in out


def test_the_printed_secret_authenticates_the_webhook(app_env, added):
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    assert (
        run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme", "--issue", "9")[0] == 0
    )
    assert http_post(payload, basic_auth(added)).status_code == 202


def test_secret_is_stored_hashed_not_in_plain_text(app_env, added):
    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(app_env.connection_string)
    for table in service.list_tables():
        if table.name.startswith(app_env.table_prefix):
            for entity in service.get_table_client(table.name).list_entities():
                text = json.dumps({k: str(v) for k, v in entity.items()})
                assert added not in text
                assert "pat-value-never-printed" not in text
                assert "sntrys_token_never_printed" not in text


def test_duplicate_add_is_refused(app_env, added):
    code, _, err = run(
        "integration", "add", COLLECTION, "--base-url", "https://dev.azure.com/ouno",
        "--pat-setting", "ADO_PAT_OUNO",
    )  # fmt: skip
    assert code == 1
    assert "already registered" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("integration", "show", "not-a-guid"), "is not a collection id"),
        (("integration", "show", "6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11"), "no integration"),
        (("integration", "remove", "6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11"), "no integration"),
        (("integration", "rotate-secret", "6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11"), "no integration"),
        (
            ("integration", "add", "6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11", "--base-url",
             "ftp://x", "--pat-setting", "P"),
            "https:// URL",
        ),
        (
            ("integration", "add", "6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11", "--base-url",
             "https://dev.azure.com/x", "--pat-setting", "not a setting"),
            "not an app setting name",
        ),
        (
            ("integration", "sentry-add", COLLECTION, "--org", "Bad/Slug", "--base-url",
             "https://sentry.io", "--token-setting", "T"),
            "not a Sentry organization slug",
        ),
        (
            ("integration", "sentry-add", COLLECTION, "--org", "acme", "--base-url",
             "https://sentry.io", "--token-setting", "T"),
            "already part of",
        ),
        (("link", "add", COLLECTION, "--work-item", "abc", "--org", "acme", "--issue", "1"), "not a work item id"),
        (("link", "add", COLLECTION, "--work-item", "0", "--org", "acme", "--issue", "1"), "not a work item id"),
        (("link", "add", COLLECTION, "--work-item", "1", "--org", "acme", "--issue", "1/2"), "not a Sentry issue id"),
        (("link", "add", COLLECTION, "--work-item", "1", "--org", "other", "--issue", "1"), "no Sentry organization other"),
        (("link", "remove", COLLECTION, "--work-item", "1", "--org", "acme", "--issue", "5"), "is not linked"),
        (("link", "list", COLLECTION, "--work-item", "x"), "not a work item id"),
        (("link", "list", COLLECTION, "--issue", "5"), "--issue needs --org"),
    ],
)  # fmt: skip
def test_bad_input_gives_a_clear_error(app_env, added, argv, message):
    code, _out, err = run(*argv)
    assert code == 1
    assert message in err
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_links_read_from_either_side_and_duplicates_are_refused(app_env, added):
    assert (
        run("link", "add", COLLECTION, "--work-item", "#13", "--org", "acme", "--issue", "9")[0]
        == 0
    )
    assert (
        run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme", "--issue", "10")[0]
        == 0
    )
    assert (
        run("link", "add", COLLECTION, "--work-item", "14", "--org", "acme", "--issue", "10")[0]
        == 0
    )
    code, _, err = run(
        "link", "add", COLLECTION, "--work-item", "13", "--org", "acme", "--issue", "9"
    )
    assert code == 1
    assert "already linked" in err

    _, out, _ = run("link", "list", COLLECTION, "--work-item", "13")
    assert sorted(link["issueId"] for link in json.loads(out)) == ["10", "9"]
    _, out, _ = run("link", "list", COLLECTION, "--org", "acme", "--issue", "10")
    assert sorted(link["workItemId"] for link in json.loads(out)) == [13, 14]
    _, out, _ = run("link", "list", COLLECTION)
    assert len(json.loads(out)) == 3

    assert (
        run("link", "remove", COLLECTION, "--work-item", "13", "--org", "acme", "--issue", "9")[0]
        == 0
    )
    _, out, _ = run("link", "list", COLLECTION, "--org", "acme", "--issue", "9")
    assert json.loads(out) == []
    _, out, _ = run("link", "list", COLLECTION, "--work-item", "13")
    assert [link["issueId"] for link in json.loads(out)] == ["10"]


def test_sentry_org_with_links_cannot_be_removed(app_env, added):
    run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme", "--issue", "9")
    code, _, err = run("integration", "sentry-remove", COLLECTION, "--org", "acme")
    assert code == 1
    assert "still has 1 link" in err
    run("link", "remove", COLLECTION, "--work-item", "13", "--org", "acme", "--issue", "9")
    assert run("integration", "sentry-remove", COLLECTION, "--org", "acme")[0] == 0
    _, out, _ = run("integration", "show", COLLECTION)
    assert json.loads(out)["sentryOrgs"] == []


def test_rotate_and_finish(app_env, added):
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    code, out, _ = run("integration", "rotate-secret", COLLECTION)
    assert code == 0
    new = _secret_from(out)
    app_env.secrets.append(new)
    assert new != added
    _, shown, _ = run("integration", "show", COLLECTION)
    assert json.loads(shown)["rotationInProgress"] is True
    assert http_post(payload, basic_auth(added)).status_code == 200  # accepted, not linked
    assert run("integration", "finish-rotation", COLLECTION)[0] == 0
    forget_cached_integrations()  # what INTEGRATION_MAX_AGE of waiting does
    assert http_post(payload, basic_auth(added)).status_code == 401
    assert http_post(payload, basic_auth(new)).status_code == 200


def test_remove_leaves_a_tombstone_and_drops_links(app_env, added):
    run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme", "--issue", "9")
    assert run("integration", "remove", COLLECTION, "--yes")[0] == 0
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    assert http_post(payload, basic_auth(added)).status_code == 410

    _, out, _ = run("integration", "list")
    assert json.loads(out) == []
    _, out, _ = run("integration", "list", "--all")
    assert [i["status"] for i in json.loads(out)] == ["removed"]
    code, _, err = run("link", "list", COLLECTION)
    assert code == 1
    assert "was removed" in err
    # Removing again finishes any interrupted cleanup and still succeeds.
    assert run("integration", "remove", COLLECTION, "--yes")[0] == 0

    # Registering the organization again replaces the tombstone, with no old links.
    code, out, _ = run(
        "integration", "add", COLLECTION, "--base-url", "https://dev.azure.com/ouno",
        "--pat-setting", "ADO_PAT_OUNO",
    )  # fmt: skip
    assert code == 0
    app_env.secrets.append(_secret_from(out))
    assert json.loads(run("link", "list", COLLECTION)[1]) == []


def test_module_entry_point_runs(app_env):
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", "integration", "show", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == "error: 'nope' is not a collection id (a GUID such as 0c2f7a51-6b7e-4d4a-8e3c-1f2a3b4c5d6e)"
    )


def test_usage_error_exits_2(app_env):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["integration"], out=io.StringIO(), err=io.StringIO())
    assert stopped.value.code == 2


def test_done_states_set_show_and_clear(app_env, added):
    code, out, err = run(
        "integration", "done-states", COLLECTION, "--project", "Phoenix", "--type", "User Story",
        "--states", "Closed, Accepted",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == [
        {"project": "Phoenix", "type": "User Story", "states": ["Closed", "Accepted"]}
    ]
    run(
        "integration",
        "done-states",
        COLLECTION,
        "--project",
        "*",
        "--type",
        "*",
        "--states",
        "Done",
    )
    shown = json.loads(run("integration", "show", COLLECTION)[1])
    assert len(shown["doneStates"]) == 2
    run("integration", "done-states", COLLECTION, "--project", "phoenix", "--type", "user story")
    shown = json.loads(run("integration", "show", COLLECTION)[1])
    assert shown["doneStates"] == [{"project": "*", "type": "*", "states": ["Done"]}]
    code, _, err = run("integration", "done-states", COLLECTION, "--project", " ", "--type", "Bug")
    assert code == 1
    assert "give a project" in err


def test_poison_list_replay_and_audit(app_env, added):
    from shared.messages.sync import SyncMessage
    from shared.store.storage import get_storage

    storage = get_storage()
    message = SyncMessage(integration_id=COLLECTION, work_item_id=13, rev=2)
    storage.send_poison(message.encode())
    storage.send_poison("not json at all")
    # What the host parks for a message it could not even decode: not base64 at all.
    storage.poison_queue.send_message("%%% not base64 %%%")

    code, out, _ = run("poison", "list")
    assert code == 0
    listed = json.loads(out)
    assert [m.get("message") for m in listed] == [
        {"v": 1, "integrationId": COLLECTION, "workItemId": 13, "rev": 2, "delivery": {}},
        "not json at all",
        None,
    ]
    assert listed[2]["unreadable"].startswith("not base64 text (18 characters)")
    assert listed[2]["inserted"] and listed[2]["id"]
    code, out, _ = run("poison", "replay", "--message-id", listed[0]["id"])
    assert code == 0
    assert "Replayed 1 message(s)" in out
    assert [m["workItemId"] for m in app_env.queued()] == [13]
    remaining = json.loads(run("poison", "list")[1])
    assert [m["id"] for m in remaining] == [listed[1]["id"], listed[2]["id"]]

    # Replaying everything skips the unreadable one, and says so.
    code, out, _ = run("poison", "replay", "--yes")
    assert code == 0
    assert "Replayed 1 message(s)" in out
    assert f"Left 1 unreadable message(s) in the poison queue ({listed[2]['id']})" in out
    code, out, err = run("poison", "replay", "--message-id", "nosuch")
    assert (code, err) == (1, "error: no poison message with id nosuch\n")
    code, out, err = run("poison", "drop", "--message-id", "nosuch", "--yes")
    assert (code, out, err) == (1, "", "error: no poison message with id nosuch\n")
    code, out, _ = run("poison", "drop", "--message-id", listed[2]["id"], "--yes")
    assert (code, out) == (0, "Dropped 1 message(s).\n")
    assert json.loads(run("poison", "list")[1]) == []

    code, out, _ = run("audit", COLLECTION, "--work-item", "13")
    assert (code, json.loads(out)) == (0, [])
    code, _, err = run("audit", COLLECTION, "--limit", "0")
    assert code == 1
    assert "--limit" in err


def test_update_changes_settings_and_refuses_bad_input(app_env, added):
    code, out, err = run(
        "integration", "update", COLLECTION, "--resolution", "resolvedInNextRelease",
        "--search-url", "https://search.example/tfs/Default", "--sentry-app-secret-setting", "APP_SECRET",
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert shown["resolution"] == "resolvedInNextRelease"
    assert shown["searchUrl"] == "https://search.example/tfs/Default/"
    assert shown["sentryAppSecretSetting"] == "APP_SECRET"
    code, out, _ = run("integration", "update", COLLECTION, "--search-url", "")
    assert json.loads(out)["searchUrl"] is None
    assert (
        run("integration", "update", COLLECTION)[2]
        == "error: nothing to change: give at least one option\n"
    )
    assert "https:// URL" in run("integration", "update", COLLECTION, "--base-url", "nope")[2]


NEW = "6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11"


def test_a_placeholder_token_is_refused_at_add_and_nothing_is_stored(app_env, monkeypatch):
    monkeypatch.setenv("ADO_PAT_NEW", "<an Azure DevOps PAT>")  # as the example file has it
    code, out, err = run(
        "integration", "add", NEW, "--base-url", "https://dev.azure.com/new",
        "--pat-setting", "ADO_PAT_NEW",
    )  # fmt: skip
    assert (code, out) == (1, "")
    assert err.startswith("error: --pat-setting ADO_PAT_NEW:") and "placeholder" in err
    assert run("integration", "show", NEW)[0] == 1  # not stored


def test_a_setting_not_set_here_is_stored_with_a_warning(app_env, monkeypatch):
    monkeypatch.delenv("ADO_PAT_ELSEWHERE", raising=False)
    code, out, err = run(
        "integration", "add", NEW, "--base-url", "https://dev.azure.com/new",
        "--pat-setting", "ADO_PAT_ELSEWHERE",
    )  # fmt: skip
    assert code == 0 and "Integration registered." in out
    assert err.startswith("warning: --pat-setting ADO_PAT_ELSEWHERE: not set here")
    assert "az functionapp config appsettings set" in err


@pytest.mark.parametrize(
    ("base_url", "accepted"),
    [
        ("http://dev.azure.com/x/", False),  # a PAT in clear text over the internet
        ("https://dev.azure.com/x/", True),
        ("http://tfs:8080/tfs/DefaultCollection/", True),  # an intranet server
        ("http://10.1.2.3/tfs/DefaultCollection/", True),
    ],
)
def test_plain_http_is_only_for_private_hosts(app_env, monkeypatch, base_url, accepted):
    monkeypatch.setenv("ADO_PAT_NEW", "pat-value")
    code, _, err = run(
        "integration", "add", NEW, "--base-url", base_url, "--pat-setting", "ADO_PAT_NEW"
    )
    assert (code == 0) == accepted, err
    if not accepted:
        assert "must be https:// for a host on the internet (dev.azure.com)" in err


def test_options_cannot_be_abbreviated(app_env):
    with pytest.raises(SystemExit) as exc:
        run("integration", "add", NEW, "--base-url", "https://dev.azure.com/x", "--pat", "P")
    assert exc.value.code == 2


@pytest.mark.parametrize(
    ("work_item", "issue", "says"),
    [
        ("404", "9", "work item 404 does not exist in https://dev.azure.com/ouno/"),
        ("13", "404", "Sentry issue 404 does not exist in organization acme"),
    ],
)
def test_link_add_checks_both_sides_before_storing(app_env, added, work_item, issue, says):
    code, out, err = run(
        "link", "add", COLLECTION, "--work-item", work_item, "--org", "acme", "--issue", issue
    )
    assert (code, out) == (1, "")
    assert says in err and "nothing stored" in err and "run the command again" not in err
    assert json.loads(run("link", "list", COLLECTION)[1]) == []


class _Terminal(io.StringIO):
    """Standard input as a person at a terminal would give it."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stdin", "extra", "removed", "says"),
    [
        (io.StringIO(""), (), False, "no terminal to confirm on; add --yes"),  # a script
        (_Terminal("n\n"), (), False, "cancelled; nothing changed"),
        (_Terminal("\n"), (), False, "cancelled; nothing changed"),  # the default is no
        (_Terminal("y\n"), (), True, ""),
        (io.StringIO(""), ("--yes",), True, ""),
    ],
)
def test_destructive_commands_ask_first(app_env, added, monkeypatch, stdin, extra, removed, says):
    monkeypatch.setattr(sys, "stdin", stdin)
    code, _, err = run("integration", "remove", COLLECTION, *extra)
    assert (code == 0) == removed and says in err
    status = json.loads(run("integration", "list", "--all")[1])[0]["status"]
    assert status == ("removed" if removed else "active")


def test_storage_down_names_the_endpoint_and_what_to_do(monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv(
        "AzureWebJobsStorage",
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        + base64.b64encode(b"k" * 32).decode()
        + f";TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
        + f"QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;",
    )
    code, out, err = run("integration", "list")
    assert (code, out) == (1, "")
    assert err.startswith("error: storage unreachable: ServiceRequestError at ")
    assert f"http://127.0.0.1:{port}/devstoreaccount1" in err and "make run starts Azurite" in err
