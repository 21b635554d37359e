"""ReleaseSync: turn a push or a completed deployment into a Sentry release with its commits,
and a deployment into a Sentry deploy.

* **push** (``git.push`` to the tracked branch, a SHA-only version template): the release for
  the pushed head is created early, so its commits show up before the deploy.
* **deploy**, Classic (``deployment-completed``) or YAML (``stage-state-changed``): the commit is
  read from Azure DevOps (the release's artifacts, or the run's build), the release created if
  needed, its commits set, and a deploy recorded for the Sentry environment the stage maps to.
  A failed, canceled or rejected deployment records nothing.

Nothing twice: Sentry answers 208 for a release that exists; a version whose head is the
repository's last release gets no second commit list; a deploy already listed for the version
with the same environment, name and start is not posted again (a rollback, which deploys an
old build under its old name, is a new deploy). A deploy that arrives before the push of its
commits gets the same commit list (read from Azure DevOps, not from the push). A head the last
release already contains (a redeploy of an older build) keeps the commits Sentry has for it,
gets none of the newer ones, and leaves the repository's last release where it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.azure_devops.code_client import CodeClient
from shared.clients import azure_devops_code_client, sentry_client
from shared.doors import consume, read_message
from shared.errors import (
    AlreadyExists,
    GiveUp,
    IntegrationNotFound,
    IntegrationRemoved,
    SyncError,
)
from shared.http import ApiAuthError, ApiNotFound, ApiRejected
from shared.log import log_event
from shared.releases.commits import release_commits
from shared.releases.message import ReleaseMessage
from shared.releases.template import branch_name, render, uses_build
from shared.store.audit import (
    APPLIED,
    KIND_RELEASE,
    SKIPPED,
    AuditEntry,
    AuditLog,
)
from shared.store.integrations import Integrations
from shared.store.poison import park
from shared.store.records import Integration, SentryOrg
from shared.store.repositories import Repositories, TrackedRepository
from shared.store.storage import RELEASES, Storage, get_storage
from shared.validation import web_link

QUEUE_EDGE = "releases"
SUCCEEDED = frozenset({"succeeded", "partiallysucceeded"})


class CommitsBusy(SyncError):
    """Sentry is still processing the release's earlier commits (409): retried later."""


def handle_release_message(text: str, dequeue_count: int, storage: Storage | None = None) -> None:
    storage = storage or get_storage()
    consume(
        QUEUE_EDGE,
        dequeue_count,
        lambda: _apply(storage, read_message(ReleaseMessage, text)),
        lambda exc: _give_up(storage, text, exc, dequeue_count),
    )


class _Run:
    def __init__(self, storage: Storage, integration: Integration, message: ReleaseMessage):
        self.storage, self.integration, self.message = storage, integration, message
        self.audit = AuditLog(storage)

    def record(self, outcome: str, action: str, reason: str) -> None:
        self.audit.record(
            self.integration.id,
            AuditEntry(
                kind=KIND_RELEASE, work_item_id=0, rev=0, outcome=outcome, action=action,
                reason=reason,
            ),
        )


def _apply(storage: Storage, message: ReleaseMessage) -> None:
    try:
        integration = Integrations(storage).get(message.integration_id, with_orgs=True)
    except (IntegrationNotFound, IntegrationRemoved) as exc:
        log_event("releases.no_integration", logging.WARNING, integration=message.integration_id)
        AuditLog(storage).record(
            message.integration_id,
            AuditEntry(
                kind=KIND_RELEASE, work_item_id=0, rev=0, outcome=SKIPPED, action="none",
                reason=str(exc),
            ),
        )
        return
    run = _Run(storage, integration, message)
    try:
        if message.kind == "push":
            _push(run)
        else:
            _deploy(run)
    except ApiAuthError as exc:
        raise GiveUp(
            f"{exc.service} refused our credentials ({exc.status}): the Sentry token needs "
            "project:releases or org:ci, the PAT Code (Read) and Build/Release (Read)"
        ) from None


def _push(run: _Run) -> None:
    message = run.message
    assert message.repository_id and message.head
    repo = Repositories(run.storage).get(run.integration.id, message.repository_id)
    if repo is None or not repo.branch or (message.branch or "") != repo.branch:
        run.record(SKIPPED, "release", "push to an untracked repository or branch")
        return
    if uses_build(repo.version_template):
        run.record(SKIPPED, "release", "the version needs a build number: made at the deploy")
        return
    values = {"sha": message.head, "short_sha": message.head[:12], "name": repo.name}
    values["branch"] = branch_name(message.branch)
    version = render(repo.version_template, values)
    _release(run, repo, version, message.head, web_link(message.url))


@dataclass(frozen=True)
class _Deployed:
    """What Azure DevOps says a deployment deployed."""

    repo: TrackedRepository
    head: str
    build: str | None
    branch: str | None
    pipeline: tuple[str | None, ...]  # id and name, to match the tracked deploy targets
    started: str | None = None
    finished: str | None = None
    url: str | None = None


def _deploy(run: _Run) -> None:
    message = run.message
    found = _deployed(run, azure_devops_code_client(run.integration))
    if found is None:
        return
    repo = found.repo
    target = repo.target(found.pipeline, message.stage or "")
    if target is None:
        pipeline = next((p for p in reversed(found.pipeline) if p), "?")
        run.record(SKIPPED, "deploy", f"{message.stage} of {pipeline} is not a tracked deployment")
        return
    if (message.result or "").replace(" ", "").casefold() not in SUCCEEDED:
        run.record(SKIPPED, "deploy", f"the deployment ended {message.result}: nothing recorded")
        return
    values = {"sha": found.head, "short_sha": found.head[:12], "name": repo.name}
    values.update({"build": found.build, "branch": branch_name(found.branch)})
    version = render(repo.version_template, values)
    _release(run, repo, version, found.head, web_link(found.url))
    label = found.build or message.build_id or message.release_id or ""
    name = f"{next((p for p in reversed(found.pipeline) if p), 'pipeline')} {label}"[:64]
    sentry = sentry_client(_org(run, repo))
    existing = sentry.deploys(repo.sentry_org, version)
    if any(_same_deploy(d, target.environment, name, found.started) for d in existing):
        run.record(SKIPPED, "deploy", f"deploy {name} to {target.environment} already recorded")
        return
    deploy: dict[str, Any] = {
        "environment": target.environment,
        "name": name,
        "projects": list(repo.sentry_projects),
    }
    for key, value in (
        ("url", web_link(found.url)),
        ("dateStarted", found.started),
        ("dateFinished", found.finished),
    ):
        if value:
            deploy[key] = value
    sentry.create_deploy(repo.sentry_org, version, deploy)
    run.record(APPLIED, "deploy", f"release {version} deployed to {target.environment} ({name})")
    log_event("releases.deployed", integration=run.integration.id, environment=target.environment)


def _instant(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _same_deploy(known: dict[str, Any], environment: str, name: str, started: str | None) -> bool:
    """The deploy Sentry lists is this deployment: same environment and name and, when both
    say when they started, the same start (a rollback redeploys a build under its old name)."""
    if known.get("environment") != environment or known.get("name") != name:
        return False
    ours, theirs = _instant(started), _instant(known.get("dateStarted"))
    return ours is None or theirs is None or ours == theirs


def _deployed(run: _Run, client: CodeClient) -> _Deployed | None:
    """The tracked repository and the commit a deployment deployed, from Azure DevOps."""
    message = run.message
    repos = Repositories(run.storage)
    if message.kind == "pipeline-deploy":
        build = client.build(message.project, message.build_id or "")
        repository = build.get("repository") or {}
        repo = repos.get(run.integration.id, str(repository.get("id") or ""))
        head = str(build.get("sourceVersion") or "")
        if repo is None or len(head) != 40:
            run.record(SKIPPED, "deploy", "the run's repository is not tracked (or has no commit)")
            return None
        return _Deployed(
            repo,
            head,
            build.get("buildNumber"),
            build.get("sourceBranch"),
            (message.pipeline_id, message.pipeline_name),
            build.get("startTime"),
            build.get("finishTime"),
            message.url,
        )
    release = azure_devops_code_client(run.integration, releases=True).classic_release(
        message.project, message.release_id or ""
    )
    definition = (release or {}).get("releaseDefinition") or {}
    pipeline = (str(definition.get("id") or "") or None, definition.get("name"))
    web = (((release or {}).get("_links") or {}).get("web") or {}).get("href")
    for artifact in (release or {}).get("artifacts") or []:
        reference = artifact.get("definitionReference") or {}
        repository = (reference.get("repository") or {}).get("id")
        repo = repos.get(run.integration.id, str(repository or ""))
        head = str((reference.get("sourceVersion") or {}).get("id") or "")
        if repo is not None and len(head) == 40:
            version = (reference.get("version") or {}).get("name")
            branch = (reference.get("branch") or {}).get("name")
            return _Deployed(
                repo, head, version, branch, pipeline, message.started, message.finished, web
            )
    run.record(SKIPPED, "deploy", "the release has no artifact from a tracked repository")
    return None


def _org(run: _Run, repo: TrackedRepository) -> SentryOrg:
    org = run.integration.sentry_org(repo.sentry_org)
    if org is None:
        raise GiveUp(f"Sentry organization {repo.sentry_org} is not configured")
    return org


def _release(run: _Run, repo: TrackedRepository, version: str, head: str, url: str | None) -> None:
    """The release exists and, for a head newer than the last release, carries its commits."""
    sentry = sentry_client(_org(run, repo))
    try:
        created = sentry.create_release(
            repo.sentry_org, version, list(repo.sentry_projects), ref=head, url=url
        )
    except ApiRejected as exc:
        raise GiveUp(
            f"Sentry refused release {version}: {exc.remote_message or exc.detail}"
        ) from None
    if repo.last_sha == head:
        run.record(SKIPPED, "release", f"release {version}: its commits are already set")
        return
    client = azure_devops_code_client(run.integration)
    try:
        commits = release_commits(client, repo, head)
    except ApiNotFound:
        raise GiveUp(
            f"Azure DevOps has no repository {repo.name} in {repo.project} (or commit {head[:12]})"
        ) from None
    if not commits:
        run.record(
            SKIPPED,
            "release",
            f"release {version}: {head[:12]} is older than the last release; commits kept",
        )
        return
    try:
        sentry.set_release_commits(repo.sentry_org, version, commits)
    except ApiRejected as exc:
        if exc.status == 409:
            raise CommitsBusy(f"Sentry is still processing release {version}'s commits") from None
        raise GiveUp(
            f"Sentry refused the commits of {version}: {exc.remote_message or exc.detail}"
        ) from None
    try:
        Repositories(run.storage).released(repo, head, version)
    except AlreadyExists:
        pass  # another run released meanwhile; the newer one decides the next base
    run.record(
        APPLIED,
        "release",
        f"release {version} {'created' if created else 'updated'} with {len(commits)} commit(s)",
    )
    log_event("releases.released", integration=run.integration.id, commits=len(commits))


def _give_up(storage: Storage, text: str, exc: Exception, dequeue_count: int) -> None:
    try:
        partition: str | None = ReleaseMessage.decode(text).integration_id
    except ValidationError:
        partition = None
    reason = park(
        storage,
        RELEASES,
        text,
        what="release message",
        exc=exc,
        attempts=dequeue_count,
        partition=partition,
    )
    log_event("releases.poisoned", logging.ERROR, reason=reason[:300])
