"""Azure DevOps service-hook events, as pydantic models.

Models ignore unknown fields, accept numbers sent as strings, and read identities in both
dialects (``identity``). Field reference names come from ``fields``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from shared.azure_devops.fields import (
    FIELD_ASSIGNED_TO,
    FIELD_CHANGED_BY,
    FIELD_CHANGED_DATE,
    FIELD_HISTORY,
    FIELD_STATE,
    FIELD_TEAM_PROJECT,
    FIELD_WORK_ITEM_TYPE,
)
from shared.azure_devops.identity import IdentityValue
from shared.shapes import Guid, Int32, PathName, StateName


class _Model(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", populate_by_name=True, frozen=True)


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

    state: StateChange | None = Field(None, alias=FIELD_STATE)
    assigned_to: IdentityChange | None = Field(None, alias=FIELD_ASSIGNED_TO)
    changed_date: DateChange | None = Field(None, alias=FIELD_CHANGED_DATE)


class RevisionFields(_Model):
    """The flat snapshot of the work item after the update."""

    work_item_type: PathName | None = Field(None, alias=FIELD_WORK_ITEM_TYPE)
    team_project: PathName | None = Field(None, alias=FIELD_TEAM_PROJECT)
    state: StateName | None = Field(None, alias=FIELD_STATE)
    assigned_to: IdentityValue = Field(None, alias=FIELD_ASSIGNED_TO)
    changed_by: IdentityValue = Field(None, alias=FIELD_CHANGED_BY)
    changed_date: DateText | None = Field(None, alias=FIELD_CHANGED_DATE)


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


class CommentVersionRef(_Model):
    comment_id: Int32 | None = Field(None, alias="commentId")


class CommentedFields(_Model):
    history: Annotated[str, Field(max_length=1_000_000)] | None = Field(None, alias=FIELD_HISTORY)
    changed_by: IdentityValue = Field(None, alias=FIELD_CHANGED_BY)
    team_project: PathName | None = Field(None, alias=FIELD_TEAM_PROJECT)
    work_item_type: PathName | None = Field(None, alias=FIELD_WORK_ITEM_TYPE)


class WorkItemCommented(_Model):
    """``resource`` of a ``workitem.commented`` event: the work item after the comment. The
    comment id is in ``commentVersionRef`` (recent servers); the author is ``ChangedBy``."""

    id: Int32
    rev: Int32
    comment: CommentVersionRef | None = Field(None, alias="commentVersionRef")
    fields: CommentedFields = CommentedFields()
