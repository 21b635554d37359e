"""A search request's parameters, checked: the text, an optional project, a result limit."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.errors import InvalidInput
from shared.shapes import MAX_NAME_LENGTH, check_path_name

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_QUERY_LENGTH = 256
_ASCII_NUMBER = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class SearchRequest:
    text: str
    project: str | None
    limit: int


def read_request(params: Mapping[str, str]) -> SearchRequest:
    text = " ".join((params.get("query") or "").split())
    if not text:
        raise InvalidInput("query is required (the text or id to search for)")
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"query is longer than {MAX_QUERY_LENGTH} characters")
    project = (params.get("project") or "").strip() or None
    if project is not None:
        try:
            check_path_name(project)
        except ValueError:
            raise InvalidInput("project must be a project name or id") from None
        if len(project) > MAX_NAME_LENGTH or any(c in project for c in "/\\#?"):
            raise InvalidInput("project must be a project name or id")
    raw_limit = (params.get("limit") or "").strip()
    if not raw_limit:
        return SearchRequest(text, project, DEFAULT_LIMIT)
    if not _ASCII_NUMBER.match(raw_limit) or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise InvalidInput(f"limit must be a number from 1 to {MAX_LIMIT}")
    return SearchRequest(text, project, int(raw_limit))
