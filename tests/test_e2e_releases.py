"""End to end through the local host: a push and a deployment produce one Sentry release with
the right commits and patch sets, and one deploy (Azure DevOps and Sentry faked on 127.0.0.1)."""

from __future__ import annotations

import io
import uuid

import requests
from conftest import basic_auth, wait_for
from fakes_git import REPO_ID, FakeGit, FakeSentryReleases, sha
from test_e2e import local_host, router, world  # noqa: F401 - fixtures

from shared.cli import main as cli


def run(*argv: str) -> int:
    return cli.main(list(argv), out=io.StringIO(), err=io.StringIO())


def test_a_push_then_a_deployment(app_env, world, router, local_host):  # noqa: F811
    integration, *_ = world
    git = FakeGit(
        router,
        integration.pat,
        base_url=f"{router.url}contoso/",
        release_base_url=f"{router.url}vsrm/contoso/",
    )
    sentry = FakeSentryReleases(router, router.url, "acme", integration.tokens["acme"])
    for n in range(1, 6):
        git.commit(f"Commit {n}", {f"src/m{n}.py": "add"})
    head = git.commit("Fixes ACME-7: guard the division\n\nlong explanation", {"src/m1.py": "edit"})
    assert run("release", "track", integration.id, "--repository", "Fabrikam/Fabrikam-Web",
               "--org", "acme", "--projects", "backend", "--version", "{short_sha}",
               "--branch", "main") == 0  # fmt: skip
    assert run("release", "deploy", integration.id, "--repository", "Fabrikam-Web",
               "--pipeline", "Web", "--stage", "Production", "--environment", "production") == 0  # fmt: skip
    git.run("501", head, "20261123.9")

    def deliver(event_type: str, resource: dict) -> None:
        payload = {
            "id": str(uuid.uuid4()),
            "eventType": event_type,
            "resource": resource,
            "resourceContainers": {
                "collection": {"id": integration.id},
                "project": {"id": "be9b3917-87e6-42a4-a549-2bc06a7a878f"},
            },
        }
        response = requests.post(
            f"{local_host.url}/api/workitems/webhook",
            json=payload,
            headers=basic_auth(integration.secret),
            timeout=10,
        )
        assert response.status_code == 202, response.text

    deliver(
        "git.push",
        {
            "commits": [{"commitId": head, "comment": "Fixes ACME-7: guard the division"}],
            "refUpdates": [{"name": "refs/heads/main", "oldObjectId": sha(5), "newObjectId": head}],
            "repository": {"id": REPO_ID, "name": "Fabrikam-Web"},
        },
    )
    version = head[:12]
    assert wait_for(lambda: (sentry.releases.get(version) or {}).get("commits"), timeout=30)
    deliver(
        "ms.vss-pipelines.stage-state-changed-event",
        {
            "stage": {"name": "Production", "state": "completed", "result": "succeeded"},
            "run": {"id": "501", "state": "completed", "result": "succeeded"},
            "pipeline": {"id": "12", "name": "Web"},
        },
    )
    assert wait_for(lambda: sentry.releases[version]["deploys"], timeout=30)
    assert wait_for(lambda: not app_env.queued(app_env.release_queue_name), timeout=30)

    assert list(sentry.releases) == [version]
    release = sentry.releases[version]
    assert [c["id"] for c in release["commits"]] == [sha(n) for n in range(6, 0, -1)]
    assert release["commits"][0]["message"] == (
        "Fixes ACME-7: guard the division\n\nlong explanation"
    )
    assert release["commits"][0]["patch_set"] == [{"path": "src/m1.py", "type": "M"}]
    assert [(d["environment"], d["name"]) for d in release["deploys"]] == [
        ("production", "Web 20261123.9")
    ]
    assert len([c for c in sentry.calls if c.method == "PUT"]) == 1  # commits set once
