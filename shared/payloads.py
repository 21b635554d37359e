"""Azure DevOps service-hook payloads, as pydantic models.

This is the one place where an Azure DevOps field name is spelled. Models ignore unknown
fields, accept numbers sent as strings, and accept both identity dialects:
resourceVersion 1.0 strings (``"Display Name <unique@name>"``) and IdentityRef objects.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

WORK_ITEM_UPDATED = "workitem.updated"
FIELD_WORK_ITEM_TYPE = "System.WorkItemType"
FIELD_TEAM_PROJECT = "System.TeamProject"
FIELD_ID = "System.Id"
FIELD_TITLE = "System.Title"

# Limits that no real payload reaches; they keep a queue message far below its 48 KiB cap and
# every key we derive from a value below Table Storage's 1 KiB.
MAX_STATE_LENGTH = 256
MAX_IDENTITY_PART_LENGTH = 512
MAX_NAME_LENGTH = 256
# Azure DevOps ids, revisions and notification ids are 32-bit; so are our table columns.
MAX_INT32 = 2**31 - 1

_IDENTITY_STRING = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<unique>[^<>]*)>\s*$", re.DOTALL)


class Identity(BaseModel):
    """A person as Azure DevOps names them. ``unique_name`` is an email on Services."""

    model_config = ConfigDict(frozen=True)

    display_name: str | None = Field(None, max_length=MAX_IDENTITY_PART_LENGTH)
    unique_name: str | None = Field(None, max_length=MAX_IDENTITY_PART_LENGTH)

    @property
    def email(self) -> str | None:
        """The email address, when the unique name is one (not ``DOMAIN\\user`` on-premises)."""
        if self.unique_name and "@" in self.unique_name and "\\" not in self.unique_name:
            return self.unique_name.strip().lower()
        return None

    def same_person(self, other: Identity | None) -> bool:
        if other is None:
            return False
        mine, theirs = self.unique_name, other.unique_name
        if mine or theirs:
            return (mine or "").casefold() == (theirs or "").casefold()
        return (self.display_name or "") == (other.display_name or "")


def parse_identity(value: Any) -> Identity | None:
    """Read an identity in either dialect; empty means nobody."""
    if value is None or value == "":
        return None
    if isinstance(value, Identity):
        return value
    if isinstance(value, dict):
        display = value.get("displayName")
        unique = value.get("uniqueName")
        if display is None and unique is None:
            # Some readers only have "name" ("Display <unique>"), as revisedBy carries it.
            name = value.get("name")
            return parse_identity(name) if isinstance(name, str) else None
        if not isinstance(display, (str, type(None))) or not isinstance(unique, (str, type(None))):
            raise ValueError("identity fields must be strings")
        return Identity(display_name=display or None, unique_name=unique or None)
    if isinstance(value, str):
        match = _IDENTITY_STRING.match(value)
        if match:
            return Identity(display_name=match["name"] or None, unique_name=match["unique"] or None)
        # Old samples carry a bare display name.
        return Identity(display_name=value.strip() or None)
    raise ValueError("an identity must be a string or an object")


IdentityValue = Annotated[Identity | None, BeforeValidator(parse_identity)]
StateName = Annotated[str, Field(max_length=MAX_STATE_LENGTH)]
Int32 = Annotated[int, Field(ge=0, le=MAX_INT32)]


def check_path_name(value: str) -> str:
    """A project or work item type name that is safe as one URL path segment once quoted.

    Quoting handles ``/ ? #``; what quoting cannot make safe is a dot segment (``.``, ``..``),
    which clients resolve against the base URL, and control characters.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if value.strip() in ("", ".", ".."):
        raise ValueError("is not a name")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("holds control characters")
    return value


PathName = Annotated[str, Field(max_length=MAX_NAME_LENGTH), AfterValidator(check_path_name)]
Guid = Annotated[str, BeforeValidator(lambda value: normalize_guid(value))]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class ResourceContainer(_Model):
    """A project (or collection) container: its id, a GUID in canonical lower case."""

    id: Guid


class CollectionContainer(_Model):
    """The collection (organization) id, as a canonical lower-case GUID."""

    id: Guid


class ResourceContainers(_Model):
    collection: CollectionContainer
    project: ResourceContainer | None = None


class ServiceHookEvent(_Model):
    """The envelope every Azure DevOps service hook shares."""

    event_type: str = Field(alias="eventType")
    event_id: str | None = Field(None, alias="id", max_length=128)
    subscription_id: uuid.UUID | None = Field(None, alias="subscriptionId")
    notification_id: Int32 | None = Field(None, alias="notificationId")
    resource_version: str | None = Field(None, alias="resourceVersion", max_length=64)
    resource_containers: ResourceContainers = Field(alias="resourceContainers")
    resource: dict[str, Any] | None = None

    @property
    def collection_id(self) -> str:
        return self.resource_containers.collection.id

    @property
    def project_id(self) -> str | None:
        project = self.resource_containers.project
        return project.id if project else None


class StateChange(_Model):
    old_value: StateName | None = Field(None, alias="oldValue")
    new_value: StateName | None = Field(None, alias="newValue")


class IdentityChange(_Model):
    old_value: IdentityValue = Field(None, alias="oldValue")
    new_value: IdentityValue = Field(None, alias="newValue")


DateText = Annotated[str, Field(max_length=64)]


class DateChange(_Model):
    old_value: DateText | None = Field(None, alias="oldValue")
    new_value: DateText | None = Field(None, alias="newValue")


class ChangedFields(_Model):
    """The fields of a work item update that we read; Azure DevOps sends only changed ones."""

    state: StateChange | None = Field(None, alias="System.State")
    assigned_to: IdentityChange | None = Field(None, alias="System.AssignedTo")
    changed_date: DateChange | None = Field(None, alias="System.ChangedDate")


class RevisionFields(_Model):
    """The flat snapshot of the work item after the update."""

    work_item_type: PathName | None = Field(None, alias=FIELD_WORK_ITEM_TYPE)
    team_project: PathName | None = Field(None, alias=FIELD_TEAM_PROJECT)
    state: StateName | None = Field(None, alias="System.State")
    assigned_to: IdentityValue = Field(None, alias="System.AssignedTo")
    changed_by: IdentityValue = Field(None, alias="System.ChangedBy")
    changed_date: DateText | None = Field(None, alias="System.ChangedDate")


class Revision(_Model):
    id: Int32 | None = None
    rev: Int32 | None = None
    fields: RevisionFields = RevisionFields()


class WorkItemUpdate(_Model):
    """``resource`` of a ``workitem.updated`` event (a work item update plus a revision)."""

    update_id: Int32 | None = Field(None, alias="id")
    work_item_id: Int32 | None = Field(None, alias="workItemId")
    rev: Int32
    revised_by: IdentityValue = Field(None, alias="revisedBy")
    fields: ChangedFields = ChangedFields()
    revision: Revision | None = None

    @property
    def item_id(self) -> int | None:
        """The work item id. Canned samples carry ``workItemId: 0``; the revision knows it then."""
        if self.work_item_id:
            return self.work_item_id
        if self.revision is not None and self.revision.id:
            return self.revision.id
        return None


def normalize_guid(value: str) -> str:
    """Canonical lower-case form of a GUID; ``ValueError`` if ``value`` is not one."""
    if not isinstance(value, str):
        raise ValueError("a GUID must be a string")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError(f"not a GUID: {value[:64]!r}") from None
