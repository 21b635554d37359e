"""CLI commands for the Sentry side: organization settings, the schema to paste into Sentry,
and links made with the CLI shown in (and removed from) the Sentry issue."""

from __future__ import annotations

import json

import pytest
from fakes import FakeAzureDevOps, FakeSentry
from test_cli import COLLECTION, add_integration, run

INSTALLATION = "a8e5d37a-696c-4c54-adb5-b3f28d64c7de"


@pytest.fixture
def added(app_env, monkeypatch):
    return add_integration(app_env, monkeypatch)


def test_sentry_add_and_update_set_the_client_secret_and_installation(added):
    code, out, err = run(
        "integration", "sentry-update", COLLECTION, "--org", "acme",
        "--client-secret-setting", "SENTRY_SECRET_ACME", "--installation", INSTALLATION.upper(),
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert shown["clientSecretSetting"] == "SENTRY_SECRET_ACME"
    assert shown["installationUuid"] == INSTALLATION
    code, out, _ = run("integration", "sentry-update", COLLECTION, "--org", "acme",
                       "--client-secret-setting", "")  # fmt: skip
    assert json.loads(out)["clientSecretSetting"] is None
    for bad, message in (
        (["--installation", "nope"], "is not a Sentry installation uuid"),
        (["--client-secret-setting", "9bad"], "is not an app setting name"),
        ([], "nothing to change"),
    ):
        code, _, err = run("integration", "sentry-update", COLLECTION, "--org", "acme", *bad)
        assert code == 1 and message in err
    code, _, err = run("integration", "sentry-update", COLLECTION, "--org", "zzz", "--base-url",
                       "https://sentry.io/")  # fmt: skip
    assert code == 1 and "no Sentry organization zzz" in err


def test_the_schema_names_every_uri_with_its_full_path(added):
    code, out, err = run(
        "integration", "sentry-schema", COLLECTION, "--org", "acme",
        "--app-url", "https://syncapp.azurewebsites.net/",
    )  # fmt: skip
    assert code == 0, err
    printed = json.loads(out)
    base = f"/api/sentry/{COLLECTION}/acme"
    assert printed["webhookUrl"] == f"https://syncapp.azurewebsites.net{base}/webhook"
    element, action, stack = printed["schema"]["elements"]
    assert stack == {"type": "stacktrace-link", "uri": f"{base}/stacktrace-link/open"}
    assert element["type"] == "issue-link"
    assert action["type"] == "alert-rule-action"
    assert action["settings"]["uri"] == f"{base}/alert-rule/settings"
    assert len(action["settings"]["description"]) <= 140
    assert element["link"]["uri"] == f"{base}/issue-link/link"
    assert element["create"]["uri"] == f"{base}/issue-link/create"
    selects = [
        field
        for form in (element["link"], element["create"], action["settings"])
        for field in form["required_fields"] + form.get("optional_fields", [])
        if field["type"] == "select"
    ]
    assert {field["uri"] for field in selects} == {
        f"{base}/issue-link/{name}"
        for name in (
            "work-items", "projects", "types", "areas", "iterations", "priorities", "severities"
        )
    }  # fmt: skip
    assert all(field["uri"].startswith("/api/") and "?" not in field["uri"] for field in selects)
    code, _, err = run("integration", "sentry-schema", COLLECTION, "--org", "zzz",
                       "--app-url", "https://x.example/")  # fmt: skip
    assert code == 1 and "no Sentry organization" in err


@pytest.fixture
def services(added, rsps):
    run("integration", "sentry-update", COLLECTION, "--org", "acme", "--installation", INSTALLATION)
    ado = FakeAzureDevOps(rsps, "pat-value-never-printed", base_url="https://dev.azure.com/ouno/")
    ado.work_items[13] = {"System.TeamProject": "Fabrikam", "System.Title": "Crash"}
    sentry = FakeSentry(rsps, "https://us.sentry.io/", "acme", "sntrys_token_never_printed")
    sentry.add_issue("9")
    return ado, sentry


def test_a_link_made_with_the_cli_shows_in_sentry_and_goes_away_with_it(services):
    _, sentry = services
    code, out, err = run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme",
                         "--issue", "9")  # fmt: skip
    assert code == 0, err
    external_id = json.loads(out)["externalIssueId"]
    assert sentry.external_issues[external_id] == {
        "issueId": 9,
        "webUrl": "https://dev.azure.com/ouno/Fabrikam/_workitems/edit/13",
        "project": "Fabrikam",
        "identifier": "13",
        "installation": INSTALLATION,
    }
    code, out, _ = run("link", "list", COLLECTION, "--org", "acme", "--issue", "9")
    assert json.loads(out)[0]["externalIssueId"] == external_id
    code, _, err = run("link", "remove", COLLECTION, "--work-item", "13", "--org", "acme",
                       "--issue", "9")  # fmt: skip
    assert code == 0, err
    assert sentry.external_issues == {}


def test_an_issue_linked_twice_keeps_showing_the_link_that_remains(services):
    """Sentry keeps one external issue per issue and app (registering again replaces it):
    removing one of two links shows the other, it does not empty the sidebar."""
    ado, sentry = services
    ado.work_items[14] = {"System.TeamProject": "Fabrikam", "System.Title": "Crash too"}
    for item in ("13", "14"):
        code, _, err = run("link", "add", COLLECTION, "--work-item", item, "--org", "acme",
                           "--issue", "9")  # fmt: skip
        assert code == 0, err
    ((_, shown),) = sentry.external_issues.items()
    assert shown["identifier"] == "14"
    code, _, err = run("link", "remove", COLLECTION, "--work-item", "14", "--org", "acme",
                       "--issue", "9")  # fmt: skip
    assert code == 0, err
    ((_, shown),) = sentry.external_issues.items()
    assert shown["identifier"] == "13"
    code, _, err = run("link", "remove", COLLECTION, "--work-item", "13", "--org", "acme",
                       "--issue", "9")  # fmt: skip
    assert code == 0, err
    assert sentry.external_issues == {}


def test_a_failed_registration_keeps_the_link_and_a_rerun_completes_it(services):
    _, sentry = services
    register, refusals = sentry._external, [500] * 4

    def failing(request):
        # Sentry's external-issue endpoint failing (5xx) until it recovers.
        return (refusals.pop(), {}, "{}") if refusals else register(request)

    sentry._external = failing
    code, _, err = run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme",
                       "--issue", "9")  # fmt: skip
    assert code == 1 and "link stored, but showing it in the Sentry issue failed" in err
    assert sentry.external_issues == {}
    code, _, err = run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme",
                       "--issue", "9")  # fmt: skip
    assert code == 0, err
    assert len(sentry.external_issues) == 1
    code, _, err = run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme",
                       "--issue", "9")  # fmt: skip
    assert code == 1 and "already linked" in err


def test_sync_settings_and_resolve_states_are_set_and_shown(added):
    code, out, err = run("integration", "sync", COLLECTION, "--status-to-devops", "on",
                         "--comments", "on")  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == {
        "status-to-sentry": True,
        "assignee-to-sentry": True,
        "status-to-devops": True,
        "assignee-to-devops": False,
        "comments": True,
        "failure-notes": False,
        "regression": "default (reopen)",
    }
    code, out, err = run("integration", "sync", COLLECTION, "--regression", "new")
    assert (code, json.loads(out)["regression"]) == (0, "new")
    with pytest.raises(SystemExit):  # argparse refuses it, naming the choices
        run("integration", "sync", COLLECTION, "--regression", "sideways")
    code, out, _ = run("integration", "sync", COLLECTION, "--regression", "default")
    assert json.loads(out)["regression"] == "default (reopen)"
    code, _, err = run("integration", "resolve-states", COLLECTION, "--project", "Legacy",
                       "--type", "*", "--regression", "off")  # fmt: skip
    assert code == 0, err
    assert json.loads(run("integration", "show", COLLECTION)[1])["resolveStates"] == [
        {"project": "Legacy", "type": "*", "onResolve": None, "onUnresolve": None,
         "onRegression": "off"}
    ]  # fmt: skip
    run("integration", "resolve-states", COLLECTION, "--project", "Legacy", "--type", "*")
    code, out, err = run("integration", "resolve-states", COLLECTION, "--project", "Fabrikam",
                         "--type", "Bug", "--resolve", "Resolved", "--unresolve", "Active")  # fmt: skip
    assert code == 0, err
    shown = json.loads(run("integration", "show", COLLECTION)[1])
    assert shown["resolveStates"] == [
        {"project": "Fabrikam", "type": "Bug", "onResolve": "Resolved", "onUnresolve": "Active"}
    ]
    assert shown["sync"]["status-to-devops"] is True
    run("integration", "resolve-states", COLLECTION, "--project", "Fabrikam", "--type", "Bug")
    assert json.loads(run("integration", "show", COLLECTION)[1])["resolveStates"] == []
    code, _, err = run("integration", "sync", COLLECTION)
    assert code == 1 and "nothing to change" in err


def test_an_unlink_in_sentrys_sidebar_is_seen_by_the_sweep_and_removes_the_link(services):
    """Sentry sends no webhook for an unlink in its sidebar, but its issue index shows the
    sidebar's links (annotations): the sweep sees ours gone and removes the link."""
    _, sentry = services
    sentry.add_issue("9")
    code, out, err = run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme",
                         "--issue", "9")  # fmt: skip
    assert code == 0, err
    assert run("reconcile", COLLECTION)[0] == 0  # sees the link shown
    sentry.external_issues.clear()  # a person clicks "unlink" in Sentry
    code, out, err = run("reconcile", COLLECTION, "--dry-run")
    assert [d["why"] for d in json.loads(out)["would correct"]] == [
        "the link was removed in Sentry's sidebar"
    ]
    assert json.loads(run("link", "list", COLLECTION)[1]) != []  # a dry run removes nothing
    assert run("reconcile", COLLECTION)[0] == 0
    assert json.loads(run("link", "list", COLLECTION)[1]) == []
    (row,) = [r for r in json.loads(run("audit", COLLECTION)[1]) if r["action"] == "unlinked"]
    assert "removed in Sentry's sidebar" in row["reason"]


def test_with_several_links_a_link_missing_from_the_sidebar_is_kept(services):
    """Sentry shows one external issue per issue and app: the other link is not an unlink."""
    ado, sentry = services
    sentry.add_issue("9")
    ado.work_items[14] = {"System.TeamProject": "Fabrikam", "System.Title": "Crash too"}
    for item in ("13", "14"):
        run("link", "add", COLLECTION, "--work-item", item, "--org", "acme", "--issue", "9")
    run("reconcile", COLLECTION)
    sentry.external_issues.clear()
    run("reconcile", COLLECTION)
    assert len(json.loads(run("link", "list", COLLECTION)[1])) == 2


def _results(out: str) -> dict[tuple[str, str], str]:
    return {(c["side"], c["what"]): c["result"] for c in json.loads(out)}


def test_check_tests_what_the_pat_and_the_token_can_do_and_writes_nothing(services):
    ado, sentry = services
    run("link", "add", COLLECTION, "--work-item", "13", "--org", "acme", "--issue", "9")
    ado.calls.clear()
    sentry.calls.clear()
    code, out, err = run("integration", "check", COLLECTION)
    assert code == 0, err
    assert _results(out) == {
        ("settings", "PAT (ADO_PAT_OUNO)"): "ok",
        ("settings", "acme token (SENTRY_TOKEN_ACME)"): "ok",
        ("azure-devops", "the PAT signs in"): "ok",
        ("azure-devops", "list projects"): "ok",
        ("azure-devops", "read work item 13"): "ok",
        ("azure-devops", "change work items and comments"): "not checked",
        ("acme", "read issue 9"): "ok",
        ("acme", "look up members"): "ok",
        ("acme", "resolve, assign and comment on issues"): "not checked",
    }
    assert {c.method for c in ado.calls + sentry.calls} == {"GET"}  # reads only


def test_check_names_the_scope_a_token_lacks(services):
    ado, sentry = services

    # Azure DevOps answers 401 for a call outside the PAT's scopes (reported in
    # MicrosoftDocs/vsts-rest-api-specs#441 and edgafner/dorkag#107).
    ado._projects = lambda request: (401, {}, "")
    # Sentry's scoped endpoints deny with 403 and Django REST framework's PermissionDenied
    # detail (sentry/api/permissions.py ScopedPermission; rest_framework.exceptions).
    sentry._members = lambda request: (
        403, {}, json.dumps({"detail": "You do not have permission to perform this action."})
    )  # fmt: skip
    code, out, err = run("integration", "check", COLLECTION)
    assert code == 1
    results = _results(out)
    assert results[("azure-devops", "list projects")] == "refused"
    assert results[("acme", "look up members")] == "refused"
    assert results[("azure-devops", "the PAT signs in")] == "ok"
    assert "2 check(s) refused or failed" in err
    assert "azure-devops: list projects (needs Project and Team (Read))" in err
    assert "acme: look up members (needs member:read)" in err


def test_check_of_an_expired_pat_says_so_once(services):
    ado, _ = services
    ado._connection = lambda request: (401, {}, "")  # as for any call with a revoked PAT
    code, out, err = run("integration", "check", COLLECTION)
    assert code == 1 and "the PAT signs in (needs a valid, unexpired PAT)" in err
    ado_checks = [c for c in json.loads(out) if c["side"] == "azure-devops"]
    assert [(c["what"], c["result"]) for c in ado_checks] == [("the PAT signs in", "refused")]
