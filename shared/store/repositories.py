"""The one writer of ``repo:<repository id>`` rows (``integrations`` table): Azure DevOps
repositories tracked for Sentry releases, each with the Sentry organization and projects its
code belongs to, the release version template, the tracked branch, which pipeline stages or
release environments count as deployments to which Sentry environments, and the last release
made from it (its head commit: the next release's commits start after it)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient

from shared.errors import AlreadyExists, NotFound
from shared.store.keys import REPOSITORY_PREFIX, prefix_range, repository_row
from shared.store.storage import INTEGRATIONS, Storage, merge_unchanged, storage_errors


@dataclass(frozen=True)
class DeployTarget:
    """A pipeline (name or id; ``*`` any) and stage or release environment (``*`` any) whose
    successful completion is a deploy to Sentry ``environment``."""

    pipeline: str
    stage: str
    environment: str

    def matches(self, pipeline: tuple[str | None, ...], stage: str) -> bool:
        names = {p.casefold() for p in pipeline if p}
        return (self.pipeline == "*" or self.pipeline.casefold() in names) and (
            self.stage == "*" or self.stage.casefold() == stage.casefold()
        )

    def to_public(self) -> dict[str, str]:
        return {"pipeline": self.pipeline, "stage": self.stage, "environment": self.environment}


@dataclass(frozen=True)
class CodeMapping:
    """A Sentry project's stack frames whose path starts with ``stack_root`` are files of the
    repository under ``source_root`` (as Sentry's own code mappings: prefix for prefix)."""

    sentry_project: str
    stack_root: str
    source_root: str

    def to_public(self) -> dict[str, str]:
        return {
            "sentryProject": self.sentry_project,
            "stackRoot": self.stack_root,
            "sourceRoot": self.source_root,
        }


@dataclass(frozen=True)
class TrackedRepository:
    integration_id: str
    repository_id: str
    name: str
    project: str
    sentry_org: str
    sentry_projects: tuple[str, ...]
    version_template: str
    branch: str | None = None  # refs/heads/...; None: pushes create no releases
    deploys: tuple[DeployTarget, ...] = field(default=())
    last_sha: str | None = None
    last_version: str | None = None
    code_mappings: tuple[CodeMapping, ...] = field(default=())
    etag: str | None = None

    def target(self, pipeline: tuple[str | None, ...], stage: str) -> DeployTarget | None:
        return next((t for t in self.deploys if t.matches(pipeline, stage)), None)

    def to_public(self) -> dict[str, Any]:
        return {
            "repositoryId": self.repository_id,
            "name": self.name,
            "project": self.project,
            "sentryOrg": self.sentry_org,
            "sentryProjects": list(self.sentry_projects),
            "versionTemplate": self.version_template,
            "branch": self.branch,
            "deploys": [t.to_public() for t in self.deploys],
            "lastSha": self.last_sha,
            "lastVersion": self.last_version,
            "codeMappings": [m.to_public() for m in self.code_mappings],
        }


def _from(row: Any) -> TrackedRepository:
    return TrackedRepository(
        integration_id=row["PartitionKey"],
        repository_id=row["RepositoryId"],
        name=row["Name"],
        project=row["Project"],
        sentry_org=row["SentryOrg"],
        sentry_projects=tuple(json.loads(row["SentryProjects"])),
        version_template=row["VersionTemplate"],
        branch=row.get("Branch") or None,
        deploys=tuple(DeployTarget(**item) for item in json.loads(row.get("Deploys") or "[]")),
        last_sha=row.get("LastSha") or None,
        last_version=row.get("LastVersion") or None,
        code_mappings=tuple(
            CodeMapping(m["sentryProject"], m["stackRoot"], m["sourceRoot"])
            for m in json.loads(row.get("CodeMappings") or "[]")
        ),
        etag=getattr(row, "metadata", {}).get("etag"),
    )


class Repositories:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(INTEGRATIONS)

    def track(self, repo: TrackedRepository) -> TrackedRepository:
        with storage_errors():
            try:
                self._table.create_entity(
                    {
                        "PartitionKey": repo.integration_id,
                        "RowKey": repository_row(repo.repository_id),
                        "RepositoryId": repo.repository_id,
                        "Name": repo.name,
                        "Project": repo.project,
                        "SentryOrg": repo.sentry_org,
                        "SentryProjects": json.dumps(list(repo.sentry_projects)),
                        "VersionTemplate": repo.version_template,
                        "Branch": repo.branch or "",
                        "Deploys": "[]",
                    }
                )
            except ResourceExistsError:
                raise AlreadyExists(f"repository {repo.name} is already tracked") from None
        return repo

    def get(self, integration_id: str, repository_id: str) -> TrackedRepository | None:
        with storage_errors():
            try:
                row = self._table.get_entity(integration_id, repository_row(repository_id))
            except ResourceNotFoundError:
                return None
        return _from(row)

    def list(self, integration_id: str) -> list[TrackedRepository]:
        lo, hi = prefix_range(REPOSITORY_PREFIX)
        with storage_errors():
            rows = self._table.query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": integration_id, "lo": lo, "hi": hi},
            )
            return sorted((_from(row) for row in rows), key=lambda r: r.name.casefold())

    def find(self, integration_id: str, name_or_id: str) -> TrackedRepository:
        wanted = name_or_id.casefold()
        for repo in self.list(integration_id):
            if wanted in (repo.repository_id.casefold(), repo.name.casefold()):
                return repo
        raise NotFound(f"repository {name_or_id} is not tracked")

    def set_deploys(
        self, repo: TrackedRepository, deploys: list[DeployTarget]
    ) -> TrackedRepository:
        text = json.dumps([t.to_public() for t in deploys])
        return self._change(repo, {"Deploys": text})

    def set_code_mappings(
        self, repo: TrackedRepository, mappings: list[CodeMapping]
    ) -> TrackedRepository:
        text = json.dumps([m.to_public() for m in mappings])
        return self._change(repo, {"CodeMappings": text})

    def released(self, repo: TrackedRepository, sha: str, version: str) -> TrackedRepository:
        """The repository's newest release is now ``version`` at ``sha``, conditional on the
        row being as read (``AlreadyExists``: someone released meanwhile; read again)."""
        return self._change(repo, {"LastSha": sha, "LastVersion": version})

    def untrack(self, repo: TrackedRepository) -> None:
        with storage_errors():
            self._table.delete_entity(repo.integration_id, repository_row(repo.repository_id))

    def _change(self, repo: TrackedRepository, changes: dict[str, Any]) -> TrackedRepository:
        with storage_errors():
            try:
                row = self._table.get_entity(
                    repo.integration_id, repository_row(repo.repository_id)
                )
            except ResourceNotFoundError:
                raise NotFound(f"repository {repo.name} is not tracked") from None
            if repo.etag and row.metadata.get("etag") != repo.etag:
                raise AlreadyExists(f"repository {repo.name} changed at the same time")
            row.update(changes)
            merge_unchanged(self._table, row, f"repository {repo.name}")
        return replace(_from(row), etag=None)
