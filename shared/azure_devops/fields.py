"""Work item field reference names we read, and service-hook event types we subscribe to."""

WORK_ITEM_UPDATED = "workitem.updated"
WORK_ITEM_COMMENTED = "workitem.commented"
GIT_PUSH = "git.push"
DEPLOYMENT_COMPLETED = "ms.vss-release.deployment-completed-event"  # Classic Release
STAGE_STATE_CHANGED = "ms.vss-pipelines.stage-state-changed-event"  # YAML pipelines

# Which publisher raises each event type (a subscription names both).
PUBLISHERS = {
    WORK_ITEM_UPDATED: "tfs",
    WORK_ITEM_COMMENTED: "tfs",
    GIT_PUSH: "tfs",
    DEPLOYMENT_COMPLETED: "rm",
    STAGE_STATE_CHANGED: "pipelines",
}
# The resource version each subscription asks for.
RESOURCE_VERSIONS = {
    WORK_ITEM_UPDATED: "1.0",
    WORK_ITEM_COMMENTED: "1.0",
    GIT_PUSH: "1.0",
    DEPLOYMENT_COMPLETED: "3.0-preview.1",
    STAGE_STATE_CHANGED: "5.1-preview.1",
}

FIELD_ID = "System.Id"
FIELD_REV = "System.Rev"
FIELD_TITLE = "System.Title"
FIELD_STATE = "System.State"
FIELD_ASSIGNED_TO = "System.AssignedTo"
FIELD_CHANGED_BY = "System.ChangedBy"
FIELD_CHANGED_DATE = "System.ChangedDate"
FIELD_HISTORY = "System.History"
FIELD_WORK_ITEM_TYPE = "System.WorkItemType"
FIELD_TEAM_PROJECT = "System.TeamProject"
FIELD_DESCRIPTION = "System.Description"
FIELD_AREA_PATH = "System.AreaPath"
FIELD_ITERATION_PATH = "System.IterationPath"
FIELD_TAGS = "System.Tags"
FIELD_PRIORITY = "Microsoft.VSTS.Common.Priority"
FIELD_SEVERITY = "Microsoft.VSTS.Common.Severity"
PARENT = "System.LinkTypes.Hierarchy-Reverse"  # from a child to its parent
RELATED = "System.LinkTypes.Related"  # a relation between two work items, both ways
