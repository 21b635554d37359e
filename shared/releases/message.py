"""The release queue message (pure): what a push or a completed deployment hands to
ReleaseSync. It carries identifiers only; ReleaseSync reads the commit, the repository and the
build from Azure DevOps (the events do not carry them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.shapes import Guid

SCHEMA_VERSION = 1
Short = Annotated[str, Field(max_length=512)]


class ReleaseMessage(BaseModel):
    model_config = ConfigDict(
        defer_build=True,
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
    )

    schema_version: Literal[1] = Field(SCHEMA_VERSION, alias="v")
    integration_id: Guid
    kind: Literal["push", "classic-deploy", "pipeline-deploy"]
    project: Short  # name or id
    # push
    repository_id: Short | None = None
    head: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{40}$")] | None = None
    branch: Short | None = None
    # deploys: the Classic release and environment, or the YAML run and stage
    release_id: Short | None = None
    build_id: Short | None = None
    pipeline_id: Short | None = None
    pipeline_name: Short | None = None
    stage: Short | None = None
    result: Short | None = None
    url: Short | None = None
    started: Short | None = None  # when the deployment ran, as the event says (Classic)
    finished: Short | None = None
    event_id: Short | None = None

    def encode(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def decode(cls, text: str | bytes) -> ReleaseMessage:
        return cls.model_validate_json(text)
