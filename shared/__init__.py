"""The Python package behind every function of the Azure DevOps / Sentry sync app.

Modules have one job each:

* edges (one per function; each maps errors to its outcome in one place): ``webhook``
  (WorkItemWebhook), ``sync`` (SyncStatus), ``search`` (SearchIssues), ``subscriptions``
  (SubscriptionCheck and the subscription commands), ``cli`` (the admin command line);
* pure decisions: ``changes`` (service hook -> queue message), ``rules`` (done-states, status
  moves, order-independent link memory, assignee writes);
* shapes: ``payloads`` (Azure DevOps service hooks), ``messages`` (the sync queue message),
  ``replies`` (an HTTP function's answer);
* state: ``storage`` (Table/Queue clients), ``registry`` (integrations, Sentry organizations,
  links), ``deliveries`` (duplicate markers), ``done_states``, ``audit``, ``poison``,
  ``reconcile``;
* outside services: ``http`` (typed errors, retries, pacing), ``azure_devops``, ``sentry``,
  ``clients`` (one per organization and process);
* ``settings``, ``credentials``, ``errors`` and ``log``.
"""
