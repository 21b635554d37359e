"""Annotated types that payload shapes of both services and our queue messages share. Kept
apart from any one service's shapes, so that a message does not load a service's payloads."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from shared.validation import normalize_guid

# A GUID in canonical lower case (Azure DevOps ids, our integration ids).
Guid = Annotated[str, BeforeValidator(lambda value: normalize_guid(value))]
