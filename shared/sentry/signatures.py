"""Checks of what Sentry signs with an integration's client secret (HMAC-SHA256, hex).

* Webhooks: ``Sentry-Hook-Signature`` over the raw body, and ``Sentry-Hook-Timestamp`` (epoch
  seconds) no older than ``MAX_HOOK_AGE_SECONDS``. Sentry signs the body only, not the
  timestamp (src/sentry/sentry_apps/tasks/sentry_apps.py and external_requests/utils.py:
  the HMAC covers the serialized body; the timestamp is a separate header), so the age
  check stops a careless replay, not a deliberate one:
  a captured delivery replays with a fresh timestamp. Replays are made harmless where they
  land: events are hints read again from Sentry's current state, notes are carried once per
  note id, and an uninstalled installation is never attached again.
* UI-component requests: ``Sentry-App-Signature`` over the body (the empty string for
  select-field requests, which are GETs).
"""

from __future__ import annotations

import hashlib
import hmac
import math

APP_SIGNATURE_HEADER = "sentry-app-signature"
HOOK_SIGNATURE_HEADER = "sentry-hook-signature"
HOOK_TIMESTAMP_HEADER = "sentry-hook-timestamp"
HOOK_RESOURCE_HEADER = "sentry-hook-resource"
REQUEST_ID_HEADER = "request-id"
MAX_HOOK_AGE_SECONDS = 300
# Sentry's clock and ours may disagree a little; a timestamp this far ahead is still accepted.
MAX_CLOCK_SKEW_SECONDS = 60


def signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def app_signature_matches(secret: str, body: bytes, offered: str | None) -> bool:
    """``Sentry-App-Signature``, compared in constant time."""
    return hmac.compare_digest((offered or "").strip().encode(), signature(secret, body).encode())


def hook_signature_matches(secret: str, body: bytes, offered: str | None) -> bool:
    """``Sentry-Hook-Signature`` over the exact bytes received, compared in constant time."""
    return hmac.compare_digest((offered or "").strip().encode(), signature(secret, body).encode())


def hook_is_fresh(timestamp: str | None, now: float) -> bool:
    """``Sentry-Hook-Timestamp`` is a number of seconds no more than 5 minutes old."""
    try:
        sent = float((timestamp or "").strip())
    except ValueError:
        return False
    if not math.isfinite(sent):
        return False
    return now - MAX_HOOK_AGE_SECONDS <= sent <= now + MAX_CLOCK_SKEW_SECONDS
