"""Sentry alert rules -> Azure DevOps: the action's settings, checked when a person saves the
rule (``settings``), and the work item made when the rule fires, once per issue and rule
(``work_items``)."""
