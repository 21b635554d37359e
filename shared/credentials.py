"""Webhook secrets and API tokens.

* Webhook secrets are generated here (32 random bytes) and stored only as salted SHA-256
  hashes. A fast hash is enough: the secret is random, not a password, and the webhook must
  answer in milliseconds.
* API tokens (the Azure DevOps PAT, Sentry tokens) are never stored in Table Storage. An
  integration stores the *name of an app setting* that holds the token; in Azure that setting
  can be a Key Vault reference (``@Microsoft.KeyVault(SecretUri=...)``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping

from shared.errors import ConfigurationError, InvalidInput

SHARED_SECRET_HEADER = "shared-secret"  # noqa: S105 (a header name)
_HASH_SCHEME = "sha256"
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_MAX_SECRET_LENGTH = 256  # Azure DevOps caps basicAuthPassword at 256 characters


def new_webhook_secret() -> str:
    """32 random bytes, URL-safe, never starting with ``-`` (which a command line would take
    for an option)."""
    while True:
        secret = secrets.token_urlsafe(32)
        if secret[0] != "-":
            return secret


def hash_secret(secret: str) -> str:
    salt = secrets.token_hex(16)
    digest = hashlib.sha256((salt + secret).encode("utf-8")).hexdigest()
    return f"{_HASH_SCHEME}${salt}${digest}"


def _matches(secret: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != _HASH_SCHEME:
        return False
    candidate = hashlib.sha256((salt + secret).encode("utf-8")).hexdigest()
    return hmac.compare_digest(candidate, digest)


def secret_matches(offered: Iterable[str], stored_hashes: Iterable[str | None]) -> bool:
    """True if any offered secret matches any stored hash.

    Every pair is checked, so the time taken says nothing about which one matched.
    """
    stored = [value for value in stored_hashes if value]
    found = False
    for secret in offered:
        if not secret or len(secret) > _MAX_SECRET_LENGTH:
            continue
        for value in stored:
            found |= _matches(secret, value)
    return found


def presented_secrets(headers: Mapping[str, str]) -> list[str]:
    """Secrets a request offers: the HTTP Basic password and/or the ``Shared-Secret`` header."""
    offered: list[str] = []
    authorization = headers.get("authorization") or ""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):  # ValueError: not ASCII, or not UTF-8 inside
            decoded = ""
        _, colon, password = decoded.partition(":")
        if colon and password:
            offered.append(password)
    header_secret = headers.get(SHARED_SECRET_HEADER)
    if header_secret:
        offered.append(header_secret.strip())
    return offered


def check_setting_name(name: str) -> str:
    if not _SETTING_NAME.match(name or ""):
        raise InvalidInput(
            f"{name!r} is not an app setting name (letters, digits and underscores, "
            "not starting with a digit)"
        )
    return name


def token_from_setting(name: str) -> str:
    """The token held by app setting ``name``; ``ConfigurationError`` if it is unset."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"app setting {name} (a token) is not set")
    if value.startswith("<") and value.endswith(">"):
        # Sent as a credential it would only earn a 401 that says nothing about the cause.
        raise ConfigurationError(
            f"app setting {name} still holds a placeholder (as in local.settings.json.example); "
            "put the real token in it"
        )
    return value
