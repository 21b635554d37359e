"""A person as Azure DevOps names them: in service hooks, in REST answers and in our own sync
queue message (one model, so a person read from a hook is the person SyncStatus gets).

Service hooks use two dialects: resourceVersion 1.0 strings (``"Display Name <unique@name>"``)
and IdentityRef objects; ``parse_identity`` reads both.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

# Far beyond any real name; keeps a queue message well below its 48 KiB cap.
MAX_IDENTITY_PART_LENGTH = 512

_IDENTITY_STRING = re.compile(r"^\s*(?P<name>.*?)\s*<(?P<unique>[^<>]*)>\s*$", re.DOTALL)

IdentityPart = Annotated[str, Field(max_length=MAX_IDENTITY_PART_LENGTH)]


def email_of(unique_name: str | None) -> str | None:
    """The email address a unique name is, if it is one (not ``DOMAIN\\user`` on-premises)."""
    if unique_name and "@" in unique_name and "\\" not in unique_name:
        return unique_name.strip().lower()
    return None


class Identity(BaseModel):
    """``unique_name`` is an email on Azure DevOps Services; ``email`` is it, normalized.

    In JSON (the queue message): ``{"displayName", "uniqueName", "email"}``.
    """

    model_config = ConfigDict(
        defer_build=True,
        frozen=True,
        extra="ignore",
        populate_by_name=True,
        alias_generator=to_camel,
    )

    display_name: IdentityPart | None = None
    unique_name: IdentityPart | None = None
    email: IdentityPart | None = None

    @classmethod
    def named(cls, display_name: str | None, unique_name: str | None) -> Identity:
        return cls(display_name=display_name, unique_name=unique_name, email=email_of(unique_name))

    def same_person(self, other: Identity | None) -> bool:
        if other is None:
            return False
        mine, theirs = self.unique_name, other.unique_name
        if mine or theirs:
            return (mine or "").casefold() == (theirs or "").casefold()
        return (self.display_name or "") == (other.display_name or "")


def same_identity(old: Identity | None, new: Identity | None) -> bool:
    if old is None or new is None:
        return old is new
    return old.same_person(new)


def parse_identity(value: Any) -> Identity | None:
    """Read an identity in either service-hook dialect; empty means nobody."""
    if value is None or value == "":
        return None
    if isinstance(value, Identity):
        return value
    if isinstance(value, dict):
        display = value.get("displayName")
        unique = value.get("uniqueName")
        if display is None and unique is None:
            # Some readers only have "name" ("Display <unique>"), as revisedBy carries it.
            name = value.get("name")
            return parse_identity(name) if isinstance(name, str) else None
        if not isinstance(display, (str, type(None))) or not isinstance(unique, (str, type(None))):
            raise ValueError("identity fields must be strings")
        return Identity.named(display or None, unique or None)
    if isinstance(value, str):
        match = _IDENTITY_STRING.match(value)
        if match:
            return Identity.named(match["name"] or None, match["unique"] or None)
        # Old samples carry a bare display name.
        return Identity.named(value.strip() or None, None)
    raise ValueError("an identity must be a string or an object")


IdentityValue = Annotated[Identity | None, BeforeValidator(parse_identity)]
