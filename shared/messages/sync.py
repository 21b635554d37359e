"""The sync queue message: what WorkItemWebhook hands to SyncStatus.

One message per (integration, work item, revision) that changed the state and/or the assignee.
It carries only what SyncStatus needs, never the payload, and names its schema version so a
newer reader can tell old messages apart. JSON, camelCase keys; the queue stores it base64.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from shared.azure_devops.identity import Identity
from shared.shapes import MAX_STATE_LENGTH, Guid, Int32, PathName

SCHEMA_VERSION = 1
MAX_ENCODED_BYTES = 48 * 1024  # a base64 queue message holds at most 48 KiB of text
# A comment's HTML is cut to this (3 bytes a character at worst still fits the queue).
MAX_COMMENT_CHARACTERS = 12_000


class _Message(BaseModel):
    model_config = ConfigDict(
        defer_build=True,
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="ignore",
    )


State = Annotated[str, Field(max_length=MAX_STATE_LENGTH)]
Short = Annotated[str, Field(max_length=128)]


class StateTransition(_Message):
    old: State | None = None
    new: State | None = None


class AssigneeTransition(_Message):
    old: Identity | None = None
    new: Identity | None = None


class DevOpsComment(_Message):
    """A comment made on the work item (``workitem.commented``), cut to fit the queue."""

    id: Int32 | None = None
    html: Annotated[str, Field(max_length=MAX_COMMENT_CHARACTERS)]
    author: Identity | None = None
    truncated: bool = False


class Delivery(_Message):
    """Which service-hook delivery produced the message, for the audit trail."""

    event_id: Short | None = None
    subscription_id: Short | None = None
    notification_id: Int32 | None = None


class SyncMessage(_Message):
    """Validated as strictly as the webhook validates a delivery: a message that breaks a
    bound (hand-made, or from an older bug) is refused whole, never half-applied."""

    schema_version: Literal[1] = Field(SCHEMA_VERSION, alias="v")
    integration_id: Guid
    work_item_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    rev: Int32
    project_id: Guid | None = None
    project_name: PathName | None = None
    work_item_type: PathName | None = None
    changed_date: Short | None = None
    changed_by: Identity | None = None
    state: StateTransition | None = None
    assignee: AssigneeTransition | None = None
    comment: DevOpsComment | None = None  # a comment message: neither state nor assignee
    delivery: Delivery = Delivery()

    def encode(self) -> str:
        """The message text (before the queue's base64 encoding)."""
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def decode(cls, text: str | bytes) -> SyncMessage:
        return cls.model_validate_json(text)
