"""Checks of what Sentry signs with an integration's client secret (HMAC-SHA256, hex)."""

from __future__ import annotations

import hashlib
import hmac

APP_SIGNATURE_HEADER = "sentry-app-signature"


def app_signature_matches(secret: str, body: bytes, offered: str | None) -> bool:
    """``Sentry-App-Signature``: HMAC-SHA256 of the request body (empty for select-field
    requests), compared in constant time."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest((offered or "").strip().encode(), expected.encode())
