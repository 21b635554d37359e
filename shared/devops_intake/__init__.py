"""Azure DevOps -> us: the service-hook intake (``webhook``, one handler module per event type)
and what keeps deliveries flowing (``subscriptions``, ``reconcile``)."""
