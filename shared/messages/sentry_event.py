"""The Sentry event message: what SentryWebhook hands on, on its own queue, for the functions
that act on Sentry's changes (status, assignee, comments, alert rules).

One message per delivery of a resource we act on, carrying the parsed part of the payload
that matters (never the whole event) and naming its schema version. JSON; the queue stores it
base64.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.sentry.webhooks import (
    Actor,
    CommentData,
    EventAlertData,
    IssueData,
    MetricAlertData,
)
from shared.shapes import Guid

SCHEMA_VERSION = 1
MAX_ENCODED_BYTES = 48 * 1024  # a base64 queue message holds at most 48 KiB of text
# A note longer than this is cut (and marked) so that the message fits the queue.
MAX_COMMENT_CHARACTERS = 20_000

Short = Annotated[str, Field(max_length=128)]


class SweepChunk(BaseModel):
    """A chunk of the sweep of every link (``resource`` ``sweep``): its round and cursor."""

    model_config = ConfigDict(
        defer_build=True, alias_generator=to_camel, populate_by_name=True, frozen=True
    )

    round: Short
    after: Short = ""


class SentryEventMessage(BaseModel):
    model_config = ConfigDict(
        defer_build=True,
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
    )

    schema_version: Literal[1] = Field(SCHEMA_VERSION, alias="v")
    integration_id: Guid
    org: Short
    resource: Short
    action: Short
    installation_uuid: Short
    request_id: Short | None = None
    actor: Actor | None = None
    issue: IssueData | None = None
    comment: CommentData | None = None
    comment_truncated: bool = False
    event_alert: EventAlertData | None = None
    metric_alert: MetricAlertData | None = None
    sweep: SweepChunk | None = None

    def encode(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True, exclude_defaults=False)

    @classmethod
    def decode(cls, text: str | bytes) -> SentryEventMessage:
        return cls.model_validate_json(text)
