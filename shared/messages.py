"""The sync queue message: what WorkItemWebhook hands to SyncStatus.

One message per (integration, work item, revision) that changed the state and/or the assignee.
It carries only what SyncStatus needs, never the payload, and names its schema version so a
newer reader can tell old messages apart. JSON, camelCase keys; the queue stores it base64.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

SCHEMA_VERSION = 1
MAX_ENCODED_BYTES = 48 * 1024  # a base64 queue message holds at most 48 KiB of text


class _Message(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class Person(_Message):
    display_name: str | None = None
    unique_name: str | None = None
    email: str | None = None


class StateTransition(_Message):
    old: str | None = None
    new: str | None = None


class AssigneeTransition(_Message):
    old: Person | None = None
    new: Person | None = None


class Delivery(_Message):
    """Which service-hook delivery produced the message, for the audit trail."""

    event_id: str | None = None
    subscription_id: str | None = None
    notification_id: int | None = None


class SyncMessage(_Message):
    schema_version: Literal[1] = Field(SCHEMA_VERSION, alias="v")
    integration_id: str
    work_item_id: int
    rev: int
    project_id: str | None = None
    project_name: str | None = None
    work_item_type: str | None = None
    changed_date: str | None = None
    changed_by: Person | None = None
    state: StateTransition | None = None
    assignee: AssigneeTransition | None = None
    delivery: Delivery = Delivery()

    def encode(self) -> str:
        """The message text (before the queue's base64 encoding)."""
        return self.model_dump_json(by_alias=True, exclude_none=True)

    @classmethod
    def decode(cls, text: str | bytes) -> SyncMessage:
        return cls.model_validate_json(text)
