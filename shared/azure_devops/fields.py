"""Work item field reference names we read, and service-hook event types we subscribe to."""

WORK_ITEM_UPDATED = "workitem.updated"

FIELD_ID = "System.Id"
FIELD_REV = "System.Rev"
FIELD_TITLE = "System.Title"
FIELD_STATE = "System.State"
FIELD_ASSIGNED_TO = "System.AssignedTo"
FIELD_CHANGED_BY = "System.ChangedBy"
FIELD_CHANGED_DATE = "System.ChangedDate"
FIELD_WORK_ITEM_TYPE = "System.WorkItemType"
FIELD_TEAM_PROJECT = "System.TeamProject"
