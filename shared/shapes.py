"""Annotated types that payload shapes of both services and our queue messages share. Kept
apart from any one service's shapes, so that a message does not load a service's payloads."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from shared.validation import normalize_guid

# A GUID in canonical lower case (Azure DevOps ids, our integration ids).
Guid = Annotated[str, BeforeValidator(lambda value: normalize_guid(value))]

# Limits that no real payload reaches; they keep a queue message far below its 48 KiB cap and
# every key we derive from a value below Table Storage's 1 KiB.
MAX_STATE_LENGTH = 256
MAX_NAME_LENGTH = 256
# Azure DevOps ids, revisions and notification ids are 32-bit; so are our table columns.
MAX_INT32 = 2**31 - 1

StateName = Annotated[str, Field(max_length=MAX_STATE_LENGTH)]
Int32 = Annotated[int, Field(ge=0, le=MAX_INT32)]


def check_path_name(value: str) -> str:
    """A project or work item type name that is safe as one URL path segment once quoted.

    Quoting handles ``/ ? #``; what quoting cannot make safe is a dot segment (``.``, ``..``),
    which clients resolve against the base URL, and control characters.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if value.strip() in ("", ".", ".."):
        raise ValueError("is not a name")
    if any(ord(char) < 32 or ord(char) == 127 for char in value):
        raise ValueError("holds control characters")
    return value


PathName = Annotated[str, Field(max_length=MAX_NAME_LENGTH), AfterValidator(check_path_name)]
