"""Stack trace links: Sentry's ``stacktrace-link`` component opened by a browser, unsigned,
redirected to the file and line in Azure Repos through a code mapping (``release map``)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fakes_git import REPO_ID, FakeGit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "issue_links"))
from test_issue_link import INSTALLATION, Ui

from shared.cli import main as cli


def _cli(*argv: str) -> dict:
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(list(argv), out=out, err=err) == 0, err.getvalue()
    return json.loads(out.getvalue())


@pytest.fixture
def world(app_env, register, stores, rsps, waits):
    ui = Ui(app_env, register(), stores, rsps)
    git = FakeGit(rsps, ui.registered.pat)
    _cli("release", "track", ui.registered.id, "--repository", "Fabrikam/Fabrikam-Web",
         "--org", "acme", "--projects", "backend", "--version", "{sha}")  # fmt: skip
    _cli("release", "map", ui.registered.id, "--repository", "Fabrikam-Web",
         "--sentry-project", "backend", "--stack-root", "app/", "--source-root", "src/app/")  # fmt: skip
    return ui, git


def _open(ui: Ui, **params: str):
    query = {"installationId": INSTALLATION, "projectSlug": "backend", **params}
    return ui._call("GET", "stacktrace-link/open", b"", query, signature="")


def test_a_frame_opens_its_file_and_line_in_azure_repos(world):
    ui, _ = world
    response = _open(ui, filename="app/billing/invoice.py", lineNo="42")
    assert response.status_code == 302
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://dev.azure.com/contoso/Fabrikam/_git/Fabrikam-Web"
    )
    query = parse_qs(parts.query)
    assert query["path"] == ["/src/app/billing/invoice.py"]
    assert query["version"] == ["GBmain"]  # the repository's default branch
    assert (query["line"], query["lineEnd"]) == (["42"], ["43"])


def test_the_tracked_branch_wins_and_windows_paths_map_too(app_env, register, stores, rsps, waits):
    ui = Ui(app_env, register(), stores, rsps)
    FakeGit(rsps, ui.registered.pat)
    _cli("release", "track", ui.registered.id, "--repository", "Fabrikam/Fabrikam-Web",
         "--org", "acme", "--projects", "backend", "--version", "{sha}",
         "--branch", "release/2026")  # fmt: skip
    _cli("release", "map", ui.registered.id, "--repository", REPO_ID,
         "--sentry-project", "backend", "--stack-root", "C:\\build\\", "--source-root", "")  # fmt: skip
    response = _open(ui, filename="C:\\build\\Web\\Program.cs")
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert (query["path"], query["version"]) == (["/Web/Program.cs"], ["GBrelease/2026"])
    assert "line" not in query  # no line number sent


@pytest.mark.parametrize(
    "params",
    [
        {"installationId": "00000000-0000-4000-8000-000000000000"},  # another installation
        {"installationId": ""},
    ],
)
def test_an_unknown_installation_gets_a_plain_page_revealing_nothing(world, params):
    ui, git = world
    git.calls.clear()
    response = _open(ui, filename="app/x.py", **params)
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Location" not in response.headers
    assert b"Fabrikam" not in response.get_body() and git.calls == []


def test_unknown_integration_or_organization_gets_the_same_page(world):
    ui, _ = world
    known = _open(ui, filename="app/x.py", installationId="nope").get_body()
    for where in ({"org": "other"}, {"integration": "00000000-0000-4000-8000-000000000001"}):
        response = ui._call(
            "GET", "stacktrace-link/open", b"",
            {"installationId": INSTALLATION, "filename": "app/x.py"}, "", **where,
        )  # fmt: skip
        assert (response.status_code, response.get_body()) == (404, known)


@pytest.mark.parametrize(
    "filename",
    [
        "lib/other.py",  # no mapping covers it
        "app/../../etc/passwd",  # climbing out of the source root
        "lib/<script>alert(1)</script>.py",
    ],
)
def test_a_frame_no_mapping_covers_is_a_page_that_says_so_escaped(world, filename):
    ui, _ = world
    response = _open(ui, filename=filename)
    assert response.status_code == 404
    body = response.get_body().decode()
    assert "No code mapping" in body and "<script>" not in body
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"


def test_a_hostile_file_name_goes_into_the_location_percent_encoded(world):
    ui, _ = world
    response = _open(ui, filename='app/"><script>alert(1)</script>.py')
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "<" not in location and '"' not in location
    assert "<script>" not in response.get_body().decode()


def test_mappings_are_listed_and_removed(world):
    ui, _ = world
    (repo,) = _cli("release", "list", ui.registered.id)
    assert repo["codeMappings"] == [
        {"sentryProject": "backend", "stackRoot": "app/", "sourceRoot": "src/app/"}
    ]
    _cli("release", "map", ui.registered.id, "--repository", "Fabrikam-Web",
         "--sentry-project", "backend", "--stack-root", "app/", "--remove")  # fmt: skip
    assert _cli("release", "list", ui.registered.id)[0]["codeMappings"] == []
    assert _open(ui, filename="app/x.py").status_code == 404


def test_a_mapping_for_a_project_the_repository_does_not_serve_is_refused(world):
    ui, _ = world
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["release", "map", ui.registered.id, "--repository", "Fabrikam-Web",
         "--sentry-project", "frontend", "--stack-root", "web/"], out=out, err=err,
    )  # fmt: skip
    assert code == 1 and "not one of the repository's Sentry projects" in err.getvalue()
