"""The Python package behind every function of the Azure DevOps / Sentry sync app.

Where things happen, from the names alone:

* outside services, one package each, owning every call and every name they spell:
  ``azure_devops`` and ``sentry`` (``http`` is what their clients share, ``clients`` keeps one
  per organization and process);
* storage: ``store``, one writer per kind of row, the row-key grammar in ``store.keys``;
* features, named by direction: ``devops_intake`` (WorkItemWebhook, subscriptions, reconcile),
  ``devops_to_sentry`` (SyncStatus), ``sentry_intake`` (SentryWebhook,
  SentryComponents), ``sentry_to_devops`` (SentryEvents), ``issue_links`` (link or create from
  Sentry's sidebar), ``alert_rules``, ``comments`` (both ways), ``releases`` (ReleaseSync),
  ``search`` (SearchIssues), ``maintenance`` (SubscriptionCheck), ``cli`` (the admin command
  line);
* the function folders' door kit: ``doors`` (errors to statuses, queue retry or park) and
  ``router`` (handlers by event type); ``sweep`` (Sentry's state compared with every link);
* ``settings``, ``credentials``, ``validation``, ``errors`` and ``log``.

Nothing is imported here, so a function's cold start loads only what it uses. For the same
reason every pydantic model says ``defer_build=True``: a function builds the validators of the
payload shapes it meets, on first use, not of every shape its imports declare.
"""
