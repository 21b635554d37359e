"""Pure decision: does a work-item service-hook event carry a change we sync?

No I/O here. ``change_from_update`` turns a parsed ``workitem.updated`` event into the sync
queue message, or into the reason it needs none.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.azure_devops.hooks import ServiceHookEvent, WorkItemUpdate
from shared.azure_devops.identity import same_identity
from shared.messages.sync import (
    AssigneeTransition,
    Delivery,
    StateTransition,
    SyncMessage,
)


@dataclass(frozen=True)
class NoChange:
    """Nothing to sync, and why (shown to Azure DevOps in the 200 body)."""

    reason: str


def change_from_update(
    event: ServiceHookEvent, update: WorkItemUpdate, work_item_id: int
) -> SyncMessage | NoChange:
    """The message for a ``workitem.updated`` service hook event."""
    snapshot = update.revision.fields if update.revision is not None else None
    return message_for(
        update,
        work_item_id,
        integration_id=event.collection_id,
        project_id=event.project_id,
        project_name=snapshot.team_project if snapshot is not None else None,
        work_item_type=snapshot.work_item_type if snapshot is not None else None,
        delivery=Delivery(
            event_id=event.event_id,
            subscription_id=str(event.subscription_id) if event.subscription_id else None,
            notification_id=event.notification_id,
        ),
    )


def message_for(
    update: WorkItemUpdate,
    work_item_id: int,
    *,
    integration_id: str,
    project_id: str | None,
    project_name: str | None,
    work_item_type: str | None,
    delivery: Delivery | None = None,
) -> SyncMessage | NoChange:
    """The message for one work item update, from a service hook or from the updates API."""
    fields = update.fields
    state = None
    if fields.state is not None and fields.state.old_value != fields.state.new_value:
        state = StateTransition(old=fields.state.old_value, new=fields.state.new_value)
    assignee = None
    if fields.assigned_to is not None and not same_identity(
        fields.assigned_to.old_value, fields.assigned_to.new_value
    ):
        assignee = AssigneeTransition(
            old=fields.assigned_to.old_value, new=fields.assigned_to.new_value
        )
    if state is None and assignee is None:
        return NoChange("neither System.State nor System.AssignedTo changed")

    snapshot = update.revision.fields if update.revision is not None else None
    changed_date = fields.changed_date.new_value if fields.changed_date is not None else None
    if changed_date is None and snapshot is not None:
        changed_date = snapshot.changed_date
    changed_by = update.revised_by or (snapshot.changed_by if snapshot is not None else None)
    return SyncMessage(
        integration_id=integration_id,
        work_item_id=work_item_id,
        rev=update.rev,
        project_id=project_id,
        project_name=project_name,
        work_item_type=work_item_type,
        changed_date=changed_date,
        changed_by=changed_by,
        state=state,
        assignee=assignee,
        delivery=delivery or Delivery(),
    )
