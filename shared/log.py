"""Structured log lines: one event name plus fields, never a secret or a whole payload."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger("adosentry")


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log ``event`` with ``fields`` as a compact JSON object (values must be safe to show)."""
    if not logger.isEnabledFor(level):
        return
    logger.log(
        level,
        "%s %s",
        event,
        json.dumps(fields, default=str, sort_keys=True, ensure_ascii=False),
        extra={"event": event, "fields": fields},
    )
