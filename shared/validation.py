"""Checks of values that operators and callers give us (ids, slugs, URLs), each raising
``InvalidInput`` with a message that says what a valid value looks like."""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from shared.errors import InvalidInput

if TYPE_CHECKING:
    from pydantic import ValidationError

RESOLUTION_STRATEGIES = ("resolved", "resolvedInNextRelease")
MAX_WORK_ITEM_ID = 2**31 - 1
MAX_URL_LENGTH = 2048

_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")
_ISSUE_ID = re.compile(r"^[1-9][0-9]{0,19}$")  # [0-9], not \d: ASCII digits only
_NUMBER = re.compile(r"^[0-9]{1,10}$")


def normalize_guid(value: str) -> str:
    """Canonical lower-case form of a GUID; ``ValueError`` if ``value`` is not one."""
    if not isinstance(value, str):
        raise ValueError("a GUID must be a string")
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise ValueError(f"not a GUID: {value[:64]!r}") from None


def check_installation_uuid(value: str) -> str:
    try:
        return normalize_guid(value)
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a Sentry installation uuid (a GUID, shown in the internal "
            "integration's page and sent with every request)"
        ) from None


def check_integration_id(value: str) -> str:
    try:
        return normalize_guid(value)
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not a collection id (a GUID such as "
            "0c2f7a51-6b7e-4d4a-8e3c-1f2a3b4c5d6e)"
        ) from None


def check_base_url(value: str, what: str) -> str:
    """An absolute http(s) URL without query or fragment, returned with one trailing slash.

    ``http://`` is accepted for hosts inside a private network (Azure DevOps Server, a
    self-hosted Sentry); use ``https://`` for anything reached over the internet.
    """
    text = (value or "").strip()
    if len(text) > MAX_URL_LENGTH:
        raise InvalidInput(f"{what} is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.scheme not in ("https", "http"):
        shown = text if len(text) <= 100 else text[:100] + "..."
        raise InvalidInput(
            f"{what} must be an absolute http:// or https:// URL (https:// unless the host is "
            f"on a private network), got {shown!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidInput(f"{what} must not carry credentials, a query or a fragment")
    if parts.scheme == "http" and not is_private_host(host):
        # A token sent over plain HTTP to the internet is a token given away.
        raise InvalidInput(
            f"{what} must be https:// for a host on the internet ({host}); http:// is only "
            "for hosts on a private network"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/"


_LINK_UNSAFE = re.compile(r"[\s<>()\[\]\"'`\\{}|^]")


def is_private_host(host: str) -> bool:
    """Loopback, private-network and link-local addresses, ``localhost`` and single-label
    names (an intranet server such as ``http://tfs:8080``)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == "localhost" or host.endswith(".localhost") or "." not in host
    return address.is_private or address.is_loopback or address.is_link_local


def web_link(value: object) -> str | None:
    """``value`` if it is a link safe to show and to put in a Markdown or HTML link: https, or
    http to a private host; no credentials; nothing that could close the link's syntax
    (spaces, brackets, quotes, angle brackets). Else None: the caller shows no link."""
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return None
    if _LINK_UNSAFE.search(value) or any(ord(c) < 32 or ord(c) == 127 for c in value):
        return None
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return None
    if host is None or parts.username is not None or parts.password is not None:
        return None
    if parts.scheme == "https" or (parts.scheme == "http" and is_private_host(host)):
        return value
    return None


def check_slug(value: str) -> str:
    if not _SLUG.match(value or ""):
        raise InvalidInput(
            f"{value!r} is not a Sentry organization slug (lower-case letters, digits, - and _)"
        )
    return value


def check_issue_id(value: str | int) -> str:
    text = str(value).strip()
    if not _ISSUE_ID.match(text):
        raise InvalidInput(f"{value!r} is not a Sentry issue id (a positive number)")
    return text


def check_work_item_id(value: str | int) -> int:
    """A work item id: ASCII digits only (``int()`` would take ``١٢`` too), optional ``#``."""
    text = str(value).strip().removeprefix("#")
    if not _NUMBER.match(text):
        raise InvalidInput(f"{value!r} is not a work item id (a positive number)")
    number = int(text)
    if not 0 < number <= MAX_WORK_ITEM_ID:
        raise InvalidInput(f"{value!r} is not a work item id (a positive number)")
    return number


def check_resolution(value: str) -> str:
    if value not in RESOLUTION_STRATEGIES:
        raise InvalidInput(f"resolution must be one of {', '.join(RESOLUTION_STRATEGIES)}")
    return value


def describe_invalid(exc: ValidationError, prefix: str = "") -> str:
    """One short, specific reason from a validation error, without echoing the input."""
    error = exc.errors(include_url=False, include_input=False)[0]
    where = prefix + ".".join(str(part) for part in error["loc"]) or "message"
    if error["type"] == "missing":
        return f"{where} is missing"
    if error["type"] == "json_invalid":
        return "the message is not JSON"
    return f"{where}: {str(error.get('msg', 'is invalid'))[:120]}"
