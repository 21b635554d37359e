"""Sentry: every call we make to it (``client``, ``paths``), every name it spells (``shapes``)
and the checks of what it signs (``signatures``)."""
