"""Sentry -> us: the integration-platform webhook (``webhook``, handlers by resource and action)
and the queue message it hands on (``message``)."""
