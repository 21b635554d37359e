"""Sentry -> Azure DevOps: SentryEvents acts on the events SentryWebhook queued (``events``,
handlers by resource and action)."""
