"""SearchIssues: find Azure DevOps work items to link, for people and Sentry's select fields:
``request`` reads and checks the query (pure), ``work_items`` answers it."""
