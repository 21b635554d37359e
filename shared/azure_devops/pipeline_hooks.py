"""Service-hook events of code and pipelines, as pydantic models: ``git.push``, Classic
Release's deployment-completed and YAML pipelines' stage-state-changed. Field paths the
documentation leaves unconfirmed are optional; unknown fields are ignored."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.shapes import Int32

Name = Annotated[str, Field(max_length=512)]
Sha = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{40}$")]
Text = Annotated[str, Field(max_length=200_000)]

ZERO_SHA = "0" * 40


class _Model(BaseModel):
    model_config = ConfigDict(
        defer_build=True,
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        coerce_numbers_to_str=True,
    )


class Person(_Model):
    name: Name | None = None
    email: Name | None = None
    date: Name | None = None


class PushedCommit(_Model):
    commit_id: Sha = Field(alias="commitId")
    author: Person | None = None
    comment: Text | None = None
    url: Name | None = None


class RefUpdate(_Model):
    name: Name
    old_object_id: Sha = Field(alias="oldObjectId")
    new_object_id: Sha = Field(alias="newObjectId")


class Project(_Model):
    id: Name | None = None
    name: Name | None = None


class Repository(_Model):
    id: Name
    name: Name | None = None
    project: Project | None = None
    remote_url: Name | None = Field(None, alias="remoteUrl")


class GitPush(_Model):
    """``resource`` of ``git.push``."""

    commits: list[PushedCommit] = []
    ref_updates: list[RefUpdate] = Field([], alias="refUpdates")
    repository: Repository
    push_id: Int32 | None = Field(None, alias="pushId")


class Links(_Model):
    web: dict[str, Name] | None = None


class NamedRef(_Model):
    id: Name | None = None
    name: Name | None = None


class ReleaseEnvironment(_Model):
    id: Name | None = None
    name: Name
    status: Name | None = None
    release_id: Name | None = Field(None, alias="releaseId")
    release: NamedRef | None = None


class DeploymentRelease(_Model):
    id: Name | None = None


class Deployment(_Model):
    """``resource.deployment`` (ReleaseDeployment / Deployment in the Release REST model):
    ``startedOn`` and ``completedOn`` are when the deployment ran."""

    release: DeploymentRelease | None = None
    started_on: Name | None = Field(None, alias="startedOn")
    completed_on: Name | None = Field(None, alias="completedOn")


class ClassicDeployment(_Model):
    """``resource`` of ``ms.vss-release.deployment-completed-event`` (resourceVersion
    3.0-preview.1): the environment deployed to, its status and the release; no commit."""

    environment: ReleaseEnvironment
    deployment: Deployment | None = None
    project: Project | None = None

    @property
    def release_id(self) -> str | None:
        env = self.environment
        if env.release_id:
            return env.release_id
        if env.release is not None and env.release.id:
            return env.release.id
        if self.deployment is not None and self.deployment.release is not None:
            return self.deployment.release.id
        return None


class Stage(_Model):
    id: Name | None = None
    name: Name
    display_name: Name | None = Field(None, alias="displayName")
    state: Name | None = None
    result: Name | None = None
    links: dict[str, dict[str, Name]] | None = Field(None, alias="_links")


class Pipeline(_Model):
    id: Name | None = None
    name: Name | None = None


class Run(_Model):
    id: Name
    name: Name | None = None
    state: Name | None = None
    result: Name | None = None
    pipeline: Pipeline | None = None
    links: dict[str, dict[str, Name]] | None = Field(None, alias="_links")


class StageStateChanged(_Model):
    """``resource`` of ``ms.vss-pipelines.stage-state-changed-event`` (5.1-preview.1): the
    stage, its run and pipeline; no environment name or commit (read from the run's build)."""

    stage: Stage
    run: Run
    pipeline: Pipeline | None = None
