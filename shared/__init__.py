"""The Python package behind every function of the Azure DevOps / Sentry sync app.

Modules have one job each: ``payloads`` (Azure DevOps service-hook models), ``messages``
(the sync queue message), ``changes`` (pure event -> message decision), ``credentials``
(webhook secrets and token settings), ``storage`` (Table/Queue clients), ``registry``
(integrations, Sentry organizations, links), ``webhook`` (the WorkItemWebhook edge),
``cli`` (the admin command line), ``settings``, ``errors`` and ``log``.
"""
