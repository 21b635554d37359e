"""Pushes and deployments -> Sentry releases and deploys, through WorkItemWebhook.main() and
ReleaseSync.main() against a real Azurite, Azure DevOps and Sentry faked. Event shapes follow
the reference note (git.push, deployment-completed, stage-state-changed)."""

from __future__ import annotations

import io
import json
import uuid

import azure.functions.queue as func_queue
import pytest
from conftest import DEFAULT_ORG, basic_auth, http_post
from fakes_git import REPO_ID, FakeGit, FakeSentryReleases, sha

import ReleaseSync
from shared.cli import main as cli
from shared.doors import RetryLater
from shared.store.audit import AuditLog
from shared.store.poison import PoisonQueue

SENTRY = f"https://{DEFAULT_ORG}.sentry.example/"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return cli.main(list(argv), out=out, err=err), out.getvalue(), err.getvalue()


class Releases:
    def __init__(self, app_env, registered, rsps, template: str) -> None:
        self.env, self.registered = app_env, registered
        self.git = FakeGit(rsps, registered.pat)
        self.sentry = FakeSentryReleases(rsps, SENTRY, DEFAULT_ORG, registered.tokens[DEFAULT_ORG])
        for n in range(1, 26):  # 25 commits before anything is tracked
            self.git.commit(f"Commit {n}\n\nDetails of {n}")
        code, _, err = run(
            "release", "track", registered.id, "--repository", "Fabrikam/Fabrikam-Web",
            "--org", DEFAULT_ORG, "--projects", "backend,web", "--version", template,
            "--branch", "main",
        )  # fmt: skip
        assert code == 0, err
        for stage, environment in (("Production", "production"), ("Staging", "staging")):
            code, _, err = run(
                "release", "deploy", registered.id, "--repository", "Fabrikam-Web",
                "--pipeline", "Web", "--stage", stage, "--environment", environment,
            )  # fmt: skip
            assert code == 0, err

    def deliver(self, event_type: str, resource: dict) -> int:
        payload = {
            "id": str(uuid.uuid4()),
            "eventType": event_type,
            "publisherId": "tfs",
            "resourceVersion": "1.0",
            "resource": resource,
            "resourceContainers": {
                "collection": {"id": self.registered.id},
                "project": {"id": "be9b3917-87e6-42a4-a549-2bc06a7a878f"},
            },
        }
        response = http_post(payload, basic_auth(self.registered.secret))
        return response.status_code

    def push(self, head: str, old: str, branch: str = "refs/heads/main") -> int:
        return self.deliver(
            "git.push",
            {
                "commits": [{"commitId": head, "comment": "cut to what the payload holds"}],
                "refUpdates": [{"name": branch, "oldObjectId": old, "newObjectId": head}],
                "repository": {
                    "id": REPO_ID,
                    "name": "Fabrikam-Web",
                    "project": {"name": "Fabrikam"},
                },
                "pushId": 14,
            },
        )

    def stage(self, run_id: str, stage: str, result: str = "succeeded") -> int:
        return self.deliver(
            "ms.vss-pipelines.stage-state-changed-event",
            {
                "stage": {"id": "s", "name": stage, "state": "completed", "result": result,
                          "_links": {"web": {"href": f"https://dev.azure.com/contoso/_build/results?buildId={run_id}"}}},
                "run": {"id": run_id, "name": "20261123.4", "state": "completed", "result": result},
                "pipeline": {"id": "12", "name": "Web"},
            },
        )  # fmt: skip

    def classic(self, release_id: str, environment: str, status: str = "succeeded") -> int:
        # resource.deployment as real deliveries carry it (reference note 3.5; the Deployment
        # model of the Release REST API names startedOn and completedOn).
        return self.deliver(
            "ms.vss-release.deployment-completed-event",
            {
                "environment": {"id": "5", "name": environment, "status": status, "releaseId": release_id},
                "deployment": {"release": {"id": release_id}, "startedOn": "2026-11-23T11:00:00Z",
                               "completedOn": "2026-11-23T11:04:00Z"},
                "project": {"id": "be9b3917-87e6-42a4-a549-2bc06a7a878f", "name": "Fabrikam"},
            },
        )  # fmt: skip

    def work(self, attempt: int = 1) -> None:
        """ReleaseSync takes everything queued."""
        from azure.storage.queue import QueueClient

        queued = self.env.queued(self.env.release_queue_name)
        for message in queued:
            ReleaseSync.main(
                func_queue.QueueMessage(
                    id=uuid.uuid4().hex, body=json.dumps(message).encode(), dequeue_count=attempt
                )
            )
        if queued:
            QueueClient.from_connection_string(
                self.env.connection_string, self.env.release_queue_name
            ).clear_messages()

    def audit(self) -> list[dict]:
        return AuditLog(self.env.storage()).read(self.registered.id)


@pytest.fixture
def sha_releases(app_env, register, rsps, waits):
    return Releases(app_env, register(), rsps, "{sha}")


@pytest.fixture
def build_releases(app_env, register, rsps, waits):
    return Releases(app_env, register(), rsps, "{name}@{build}")


def test_a_push_makes_the_release_early_with_full_commits_and_patch_sets(sha_releases):
    world = sha_releases
    head = sha(25)
    assert world.push(head, sha(24)) == 202
    world.work()
    release = world.sentry.releases[head]
    assert release["projects"] == ["backend", "web"]
    commits = release["commits"]
    assert len(commits) == 20  # a first release takes the 20 newest
    assert commits[0] == {
        "id": head,
        "repository": "Fabrikam-Web",
        "message": "Commit 25\n\nDetails of 25",  # the whole message, not the first line
        "author_name": "Jamal Hartnett",
        "author_email": "jamal@contoso.com",
        "timestamp": "2026-11-25T10:00:00Z",
        "patch_set": [{"path": "src/file25.py", "type": "A"}],
    }
    # The next push: only what came since.
    world.git.commit("Fixes BACKEND-12\nrefactor", {"src/file25.py": "edit", "old.py": "delete"})
    second = world.git.commit("Bump")
    assert world.push(second, head) == 202
    world.work()
    commits = world.sentry.releases[second]["commits"]
    assert [c["id"] for c in commits] == [second, sha(26)]
    assert "Fixes BACKEND-12" in commits[1]["message"]
    assert commits[1]["patch_set"] == [
        {"path": "src/file25.py", "type": "M"},
        {"path": "old.py", "type": "D"},
    ]


def test_a_redelivered_push_changes_nothing(sha_releases):
    world = sha_releases
    world.push(sha(25), sha(24))
    world.push(sha(25), sha(24))
    world.work()
    puts = [c for c in world.sentry.calls if c.method == "PUT"]
    assert len(puts) == 1


def test_pushes_elsewhere_are_ignored(sha_releases, app_env):
    world = sha_releases
    assert world.push(sha(25), sha(24), branch="refs/heads/feature") == 200
    assert world.push("0" * 40, sha(24)) == 200  # the branch was deleted
    assert app_env.queued(app_env.release_queue_name) == []


def test_a_pipeline_deploy_makes_a_release_with_commits_and_one_deploy_per_environment(
    build_releases,
):
    world = build_releases
    world.git.run("301", sha(25), "20261123.4")
    assert world.stage("301", "Production") == 202  # the push never reached us: same commits
    world.work()
    release = world.sentry.releases["Fabrikam-Web@20261123.4"]
    assert len(release["commits"]) == 20 and release["commits"][0]["id"] == sha(25)
    assert release["deploys"] == [
        {
            "environment": "production",
            "name": "Web 20261123.4",
            "projects": ["backend", "web"],
            "url": "https://dev.azure.com/contoso/_build/results?buildId=301",
            "dateStarted": "2026-11-23T10:01:00Z",
            "dateFinished": "2026-11-23T11:01:00Z",
        }
    ]
    world.stage("301", "Production")  # redelivered
    world.stage("301", "Staging")  # the same release to a second environment
    world.work()
    assert [d["environment"] for d in release["deploys"]] == ["production", "staging"]
    assert len([c for c in world.sentry.calls if c.method == "PUT"]) == 1


def test_a_push_with_a_build_number_template_waits_for_the_deploy(build_releases, app_env):
    world = build_releases
    assert world.push(sha(25), sha(24)) == 202
    world.work()
    assert world.sentry.releases == {}
    assert "made at the deploy" in world.audit()[0]["reason"]


def test_a_classic_release_deploy(build_releases):
    world = build_releases
    world.git.classic("41", sha(25), "20261123.7")
    assert world.classic("41", "Production") == 202
    world.work()
    release = world.sentry.releases["Fabrikam-Web@20261123.7"]
    assert release["deploys"] == [
        {
            "environment": "production",
            "name": "Web 20261123.7",
            "projects": ["backend", "web"],
            "url": "https://dev.azure.com/contoso/Fabrikam/_releaseProgress?releaseId=41",
            "dateStarted": "2026-11-23T11:00:00Z",
            "dateFinished": "2026-11-23T11:04:00Z",
        }
    ]


def test_every_release_after_the_first_gets_the_commits_since_the_last(build_releases):
    world = build_releases
    world.git.run("401", sha(25), "web25")
    world.stage("401", "Production")
    world.work()
    for n in range(26, 29):
        world.git.commit(f"Commit {n}")
    world.git.run("402", sha(28), "web28")
    world.stage("402", "Production")
    world.work()
    commits = world.sentry.releases["Fabrikam-Web@web28"]["commits"]
    assert [c["id"] for c in commits] == [sha(28), sha(27), sha(26)]
    (shown,) = json.loads(run("release", "list", world.registered.id)[1])
    assert shown["lastVersion"] == "Fabrikam-Web@web28"


def test_a_redeploy_of_an_older_build_sends_nothing_it_lacks_nor_moves_back(build_releases):
    world = build_releases
    world.git.run("420", sha(20), "web20")
    world.stage("420", "Production")
    world.work()
    first = list(world.sentry.releases["Fabrikam-Web@web20"]["commits"])
    world.git.run("425", sha(25), "web25")
    world.stage("425", "Production")
    world.work()
    assert [c["id"] for c in world.sentry.releases["Fabrikam-Web@web25"]["commits"]] == [
        sha(n) for n in range(25, 20, -1)
    ]
    world.git.run("426", sha(20), "web20")  # web20 again, to roll back
    world.stage("426", "Production")
    world.work()
    release = world.sentry.releases["Fabrikam-Web@web20"]
    assert release["commits"] == first  # nothing of web21-web25
    # The rollback is a deploy of its own (another start), not a redelivery.
    assert [(d["name"], d["dateStarted"]) for d in release["deploys"]] == [
        ("Web web20", "2026-11-23T10:00:00Z"),
        ("Web web20", "2026-11-23T10:06:00Z"),
    ]
    assert "older than the last release" in world.audit()[1]["reason"]
    (shown,) = json.loads(run("release", "list", world.registered.id)[1])
    assert (shown["lastVersion"], shown["lastSha"]) == ("Fabrikam-Web@web25", sha(25))


def test_a_release_from_another_branch_takes_only_its_own_commits(sha_releases):
    world = sha_releases
    world.push(sha(25), sha(24))
    world.work()
    world.git.commit("main moves on")  # 26, on main
    hotfix = world.git.commit("Hotfix", parents=[sha(24)])  # 27, branched before 25
    world.push(hotfix, sha(24))
    world.work()
    assert [c["id"] for c in world.sentry.releases[hotfix]["commits"]] == [hotfix]


@pytest.mark.parametrize("result", ["failed", "canceled", "rejected"])
def test_a_failed_deployment_records_nothing(build_releases, result):
    world = build_releases
    world.git.run("302", sha(25), "20261123.5")
    world.stage("302", "Production", result=result)
    world.work()
    assert world.sentry.releases == {}
    assert "nothing recorded" in world.audit()[0]["reason"]


def test_an_untracked_stage_records_nothing(build_releases):
    world = build_releases
    world.git.run("303", sha(25), "20261123.6")
    world.stage("303", "Load test")
    world.work()
    assert world.sentry.releases == {}


def test_sentry_busy_with_commits_is_retried(sha_releases):
    world = sha_releases
    world.sentry.busy = 1
    world.push(sha(25), sha(24))
    with pytest.raises(RetryLater, match="still processing"):
        world.work()
    world.push(sha(25), sha(24))  # the queue's retry
    world.work(attempt=2)
    assert len(world.sentry.releases[sha(25)]["commits"]) == 20


def test_a_token_without_release_scopes_parks_the_message_with_the_reason(sha_releases, app_env):
    world = sha_releases
    world.sentry.token = "another-token"  # Sentry answers 401: this token cannot do releases
    world.push(sha(25), sha(24))
    world.work()
    (parked,) = PoisonQueue(app_env.storage(), "releases").peek()
    assert parked.text is not None and json.loads(parked.text)["kind"] == "push"
    row = world.audit()[0]
    assert row["outcome"] == "poisoned" and "project:releases or org:ci" in row["reason"]


def test_an_older_head_keeps_its_commits(sha_releases):
    world = sha_releases
    world.push(sha(25), sha(24))
    world.work()
    world.push(sha(23), sha(25))  # a force-push back, or an old deploy
    world.work()
    assert world.sentry.releases[sha(23)]["commits"] is None
    assert "older than the last release" in world.audit()[0]["reason"]


def test_the_cli_lists_and_refuses_what_it_cannot_track(sha_releases):
    world = sha_releases
    (shown,) = json.loads(run("release", "list", world.registered.id)[1])
    assert (shown["name"], shown["branch"], shown["versionTemplate"]) == (
        "Fabrikam-Web",
        "refs/heads/main",
        "{sha}",
    )
    assert [d["environment"] for d in shown["deploys"]] == ["production", "staging"]
    for args, message in (
        (["--repository", "Fabrikam/Nope", "--version", "{sha}"], "has no repository Nope"),
        (["--repository", "NoSlash", "--version", "{sha}"], "<project>/<repository"),
        (["--repository", "Fabrikam/Fabrikam-Web", "--version", "{commit}"], "unknown placeholder"),
    ):
        code, _, err = run("release", "track", world.registered.id, "--org", DEFAULT_ORG,
                           "--projects", "backend", *args)  # fmt: skip
        assert code == 1 and message in err, err
