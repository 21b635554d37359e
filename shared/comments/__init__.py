"""Comments both ways: a Sentry note becomes a comment on each linked work item
(``to_devops``; edits and deletions follow), a work item comment becomes a note on each linked
Sentry issue (``to_sentry``); ``text`` converts between Azure DevOps' HTML and Sentry's text."""
