"""Who may use the console: App Service Authentication (Easy Auth) signs people in with
Microsoft Entra ID and passes them on as ``X-MS-CLIENT-PRINCIPAL`` (base64 JSON: ``auth_typ``,
``claims`` of ``{typ, val}``, ``name_typ``; Microsoft Learn, "Work with user identities in
Azure App Service authentication"). Anyone can send that header to an app whose
authentication is off, so it is trusted **only** when the platform says authentication is on
(``WEBSITE_AUTH_ENABLED``, set by App Service), and only for the users or groups the
``CONSOLE_ALLOWED`` app setting names. Locally, devhost signs in a development user only when
asked (``--console-user``), never on App Service.

Actions are POSTs carrying a CSRF token (a random value in a ``SameSite=Strict`` cookie,
repeated in the form) from the same origin.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

PRINCIPAL_HEADER = "x-ms-client-principal"
AUTH_ENABLED_SETTING = "WEBSITE_AUTH_ENABLED"
ALLOWED_SETTING = "CONSOLE_ALLOWED"
DEV_USER_SETTING = "DEVHOST_CONSOLE_USER"  # set by devhost --console-user only
ON_APP_SERVICE_SETTING = "WEBSITE_SITE_NAME"  # App Service sets it for every app
CSRF_COOKIE = "console_csrf"
CSRF_FIELD = "csrf"
_OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
_NAME_CLAIMS = ("preferred_username", "name", "email", "upn")
_MAX_PRINCIPAL = 16_384


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    name: str
    object_id: str
    groups: frozenset[str] = frozenset()


def authenticate(headers: Mapping[str, str]) -> Principal:
    """The signed-in person, if the console may trust who they say they are and they are
    allowed; ``Refused`` says why not."""
    dev_user = os.environ.get(DEV_USER_SETTING, "").strip()
    if dev_user and not os.environ.get(ON_APP_SERVICE_SETTING):
        return Principal(dev_user, dev_user)
    if os.environ.get(AUTH_ENABLED_SETTING, "").strip().lower() != "true":
        raise Refused(
            503,
            "App Service Authentication is off for this app, so anyone could claim to be "
            "signed in: the console stays closed. Turn authentication on (docs/operations.md).",
        )
    principal = _principal(headers.get(PRINCIPAL_HEADER))
    if principal is None:
        raise Refused(401, "Sign in first: no signed-in user came with the request.")
    allowed = {
        item.strip().casefold()
        for item in os.environ.get(ALLOWED_SETTING, "").split(",")
        if item.strip()
    }
    if not allowed:
        raise Refused(403, f"No one may use the console yet: set {ALLOWED_SETTING}.")
    who = {principal.name.casefold(), principal.object_id.casefold()}
    if not (who | {g.casefold() for g in principal.groups}) & allowed:
        raise Refused(403, "Your account is not allowed to use this console.")
    return principal


def _principal(raw: str | None) -> Principal | None:
    if not raw or len(raw) > _MAX_PRINCIPAL:
        return None
    try:
        data = json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        return None
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, list):
        return None
    values: dict[str, list[str]] = {}
    for claim in claims:
        if isinstance(claim, dict) and isinstance(claim.get("typ"), str):
            values.setdefault(claim["typ"], []).append(str(claim.get("val", "")))
    name_type = data.get("name_typ")
    names = [*values.get(name_type, []), *(v for c in _NAME_CLAIMS for v in values.get(c, []))]
    object_id = next(iter(values.get(_OBJECT_ID, []) or values.get("oid", [])), "")
    name = next((n for n in names if n), "")
    if not name and not object_id:
        return None
    return Principal(name, object_id, frozenset(values.get("groups", [])))


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def check_post(headers: Mapping[str, str], cookies: Mapping[str, str], form_token: str) -> None:
    """A POST must come from this origin and carry the token its form was given."""
    host = headers.get("host", "")
    origin = headers.get("origin") or headers.get("referer") or ""
    if not host or urlsplit(origin).netloc != host:
        raise Refused(403, "The request did not come from this console's own pages.")
    expected = cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), form_token.encode()):
        raise Refused(403, "The form has expired: reload the page and try again.")
