"""Shapes of Sentry REST answers (extra fields ignored; ids read as strings)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Assignee(BaseModel):
    model_config = ConfigDict(
        defer_build=True, extra="ignore", frozen=True, coerce_numbers_to_str=True
    )

    type: str | None = None
    id: str | None = None
    email: str | None = None


class SentryIssue(BaseModel):
    model_config = ConfigDict(
        defer_build=True,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )

    id: str
    status: str
    substatus: str | None = None
    assigned_to: Assignee | None = Field(None, alias="assignedTo")
    num_comments: int | None = Field(None, alias="numComments")
    short_id: str | None = Field(None, alias="shortId")
    count: str | None = None  # events, as Sentry sends it (a string)
    last_seen: str | None = Field(None, alias="lastSeen")
    # Links the issue's sidebar shows: ``{"url", "displayName"}`` (older Sentry: an HTML
    # ``<a href>`` string), platform external issues among them (the stream serializer adds
    # ``PlatformExternalIssue.get_annotations_for_group_list``).
    annotations: list[Any] = []
    title: str | None = None
    culprit: str | None = None
    permalink: str | None = None
    level: str | None = None
    user_count: str | None = Field(None, alias="userCount")
    first_seen: str | None = Field(None, alias="firstSeen")
    first_release: dict[str, Any] | None = Field(None, alias="firstRelease")

    @property
    def assignee_user_id(self) -> str | None:
        if self.assigned_to is not None and self.assigned_to.type in (None, "user"):
            return self.assigned_to.id
        return None

    @property
    def is_assigned(self) -> bool:
        return self.assigned_to is not None

    def shows_link(self, base_url: str, work_item_id: int) -> bool:
        """Whether the sidebar shows a link to the work item under ``base_url``."""
        suffix = f"/_workitems/edit/{work_item_id}"
        for annotation in self.annotations:
            url = annotation.get("url") if isinstance(annotation, dict) else annotation
            if not isinstance(url, str):
                continue
            if isinstance(annotation, str):  # '<a href="...">name</a>'
                url = url.partition('href="')[2].partition('"')[0]
            if url.startswith(base_url.rstrip("/")) and url.rstrip("/").endswith(suffix):
                return True
        return False

    @property
    def assignee_key(self) -> str:
        """``""`` nobody, else ``user:<id>`` or ``team:<id>``."""
        who = self.assigned_to
        if who is None or who.id is None:
            return ""
        return f"{who.type or 'user'}:{who.id}"


class EventTag(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", coerce_numbers_to_str=True)

    key: str
    value: str | None = None


class SentryEvent(BaseModel):
    """An issue's event ("Retrieve an Issue Event", ``latest``): its tags, environment and
    release among them."""

    model_config = ConfigDict(defer_build=True, extra="ignore")

    tags: list[EventTag] = []


class MemberUser(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", coerce_numbers_to_str=True)
    id: str


class Member(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", coerce_numbers_to_str=True)
    email: str | None = None
    user: MemberUser | None = None


# The fields of an issue update (PUT .../issues/{id}/).
STATUS_FIELD = "status"
ASSIGNED_TO = "assignedTo"


def status_update(status: str) -> dict[str, str]:
    """The issue update that sets ``status`` (``resolved``, ``unresolved``, ...)."""
    return {STATUS_FIELD: status}


def assignee_update(user_id: str | None) -> dict[str, str]:
    """The issue update that assigns a user (None: nobody)."""
    return {ASSIGNED_TO: f"user:{user_id}" if user_id is not None else ""}


class ExternalIssue(BaseModel):
    """A link Sentry shows in the issue's sidebar (``project#identifier``)."""

    model_config = ConfigDict(defer_build=True, extra="ignore", coerce_numbers_to_str=True)
    id: str


class NoteUser(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", coerce_numbers_to_str=True)
    id: str | None = None
    name: str | None = None


class NoteData(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore")
    text: str = ""


class Note(BaseModel):
    """A note (comment) on an issue: an activity of type ``note``."""

    model_config = ConfigDict(defer_build=True, extra="ignore", coerce_numbers_to_str=True)
    id: str
    user: NoteUser | None = None
    data: NoteData = NoteData()
