"""Azure DevOps calls about code and pipelines: repositories, commits and their changes, builds
and Classic releases (the latter on the release host, ``paths.release_base_url``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.azure_devops import paths
from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.paths import API_VERSION
from shared.http import ApiNotFound

PAGE = 100


class _Model(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True, frozen=True)


class GitPerson(_Model):
    name: str | None = None
    email: str | None = None
    date: str | None = None


class GitCommit(_Model):
    commit_id: str = Field(alias="commitId")
    comment: str = ""
    comment_truncated: bool = Field(False, alias="commentTruncated")
    author: GitPerson | None = None


class _Commits(_Model):
    value: list[GitCommit] = []


class _Item(_Model):
    path: str | None = None
    git_object_type: str | None = Field(None, alias="gitObjectType")


class GitChange(_Model):
    item: _Item
    change_type: str = Field("edit", alias="changeType")


class _Changes(_Model):
    changes: list[GitChange] = []


class GitRepository(_Model):
    id: str
    name: str
    project: dict[str, Any] = {}
    default_branch: str | None = Field(None, alias="defaultBranch")
    web_url: str | None = Field(None, alias="webUrl")


class CodeClient(AzureDevOpsClient):
    def repository(self, project: str, repository: str) -> GitRepository:
        """A repository by name or id (``ApiNotFound`` if there is none)."""
        response = self.request(
            "GET",
            paths.repository(project, repository),
            idempotent=True,
            params={"api-version": API_VERSION},
        )
        return self._model(GitRepository, response.content, "repository")

    def commits_between(
        self, project: str, repository_id: str, head: str, base: str | None, limit: int
    ) -> list[GitCommit]:
        """Commits reachable from ``head`` and not from ``base`` (all, when None), newest
        first, at most ``limit``. A ``head`` that ``base`` already contains gives none.

        GitQueryCommitsCriteria: ``compareVersion`` is "only applicable when itemVersion is
        specified; if provided, start walking history starting at this commit". So a range
        names the older commit as ``itemVersion`` and walks from the newer one, as Sentry's
        own Azure DevOps client does (``get_commit_range``, src/sentry/integrations/vsts/
        client.py: itemVersion = start, compareVersion = end)."""
        found: list[GitCommit] = []
        params: dict[str, Any] = {"api-version": API_VERSION}
        if base:
            params["searchCriteria.itemVersion.version"] = base
            params["searchCriteria.itemVersion.versionType"] = "commit"
            params["searchCriteria.compareVersion.version"] = head
            params["searchCriteria.compareVersion.versionType"] = "commit"
        else:
            params["searchCriteria.itemVersion.version"] = head
            params["searchCriteria.itemVersion.versionType"] = "commit"
        while len(found) < limit:
            params["searchCriteria.$top"] = min(PAGE, limit - len(found))
            params["searchCriteria.$skip"] = len(found)
            response = self.request(
                "GET", paths.commits(project, repository_id), idempotent=True, params=params
            )
            page = self._model(_Commits, response.content, "commits").value
            found += page
            if len(page) < params["searchCriteria.$top"]:
                break
        return found[:limit]

    def commit(self, project: str, repository_id: str, sha: str) -> GitCommit:
        """One commit with its whole message (lists cut messages to their first line)."""
        response = self.request(
            "GET",
            paths.commit(project, repository_id, sha),
            idempotent=True,
            params={"api-version": API_VERSION},
        )
        return self._model(GitCommit, response.content, "commit")

    def commit_changes(self, project: str, repository_id: str, sha: str) -> list[GitChange]:
        changes: list[GitChange] = []
        while True:
            response = self.request(
                "GET",
                paths.commit_changes(project, repository_id, sha),
                idempotent=True,
                params={"api-version": API_VERSION, "top": PAGE, "skip": len(changes)},
            )
            page = self._model(_Changes, response.content, "commit changes").changes
            changes += page
            if len(page) < PAGE:
                return changes

    def build(self, project: str, build_id: str) -> dict[str, Any]:
        """A build (a YAML pipeline run): ``sourceVersion``, ``sourceBranch``, ``repository``,
        ``buildNumber``, ``startTime``, ``finishTime``, ``_links``."""
        response = self.request(
            "GET",
            paths.build(project, build_id),
            idempotent=True,
            params={"api-version": API_VERSION},
        )
        return self._model(_Any, response.content, "build").data

    def classic_release(self, project: str, release_id: str) -> dict[str, Any] | None:
        """A Classic release (on the release host): its ``artifacts`` name the commit."""
        try:
            response = self.request(
                "GET",
                paths.classic_release(project, release_id),
                idempotent=True,
                params={"api-version": API_VERSION},
            )
        except ApiNotFound:
            return None
        return self._model(_Any, response.content, "release").data


class _Any(BaseModel):
    """A JSON object kept whole (read with ``.get`` by the code that knows its shape)."""

    model_config = ConfigDict(defer_build=True, extra="allow")

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.model_extra or {})
