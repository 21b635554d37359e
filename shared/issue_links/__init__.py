"""Sentry's issue sidebar -> Azure DevOps: link an existing work item or create one from the
issue-link form (``form``, pure; ``link``, ``create``), the select fields' options
(``options``), links made elsewhere shown in Sentry (``external``), and the schema an operator
pastes into the internal integration (``schema``, pure)."""
