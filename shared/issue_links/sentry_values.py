"""Sentry data into Azure DevOps fields (pure): which values a new work item gets from its
Sentry issue under the integration's field maps (``integration field-map``), the most
specific map of each field winning (project and type, project, type, any)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from shared.store.records import FieldMap
from shared.store.sync_settings import most_specific

TAG_PREFIX = "tags."
# What a map may take from Sentry: from the issue, and (environment, tags) its latest event.
SOURCES = {
    "level": "the issue's level (fatal, error, warning, info, debug)",
    "release": "the issue's first release",
    "environment": "the environment of the issue's latest event",
    "culprit": "the issue's culprit",
    "firstSeen": "when the issue was first seen (ISO 8601)",
    "count": "how many events the issue has",
    "userCount": "how many users it affected",
    "lastSeen": "when the issue was last seen (ISO 8601)",
    "link": "the link to the issue",
}
FROM_EVENT = frozenset({"environment"})
# What the sweep can keep up to date from its batched read of the issues (``--live``): a work
# item's linked issues add up (counts) or the latest wins (last seen).
LIVE_SOURCES = frozenset({"count", "userCount", "lastSeen"})
MAX_VALUE_LENGTH = 4000


def check_source(source: str) -> str:
    """A source name as maps store it; ``ValueError`` names the valid ones."""
    if source in SOURCES or (source.startswith(TAG_PREFIX) and len(source) > len(TAG_PREFIX)):
        return source
    raise ValueError(f"must be one of {', '.join(SOURCES)} or tags.<name>")


def needs_event(maps: Iterable[FieldMap]) -> bool:
    return any(m.source in FROM_EVENT or m.source.startswith(TAG_PREFIX) for m in maps)


@dataclass(frozen=True)
class IssueFacts:
    """What Sentry says of the issue (None: not known)."""

    values: Mapping[str, str | None] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def get(self, source: str) -> str | None:
        if source.startswith(TAG_PREFIX):
            return self.tags.get(source[len(TAG_PREFIX) :])
        return self.values.get(source)


def applicable(maps: Iterable[FieldMap], project: str, work_item_type: str) -> list[FieldMap]:
    """The map of each field that applies to the project and type (the most specific)."""
    by_field: dict[str, list[FieldMap]] = {}
    for mapping in maps:
        by_field.setdefault(mapping.field, []).append(mapping)
    chosen = [most_specific(group, project, None, work_item_type) for group in by_field.values()]
    return [m for m in chosen if m is not None]


def mapped_values(maps: Iterable[FieldMap], facts: IssueFacts) -> dict[str, str]:
    """Field reference name -> value. A source Sentry did not give, or a value the map's
    table does not list, sets nothing."""
    values: dict[str, str] = {}
    for mapping in maps:
        raw = facts.get(mapping.source)
        if raw is None or raw == "":
            continue
        if mapping.values:
            table = {k.casefold(): v for k, v in mapping.values}
            translated = table.get(raw.casefold())
            if translated is None:
                continue
            raw = translated
        values[mapping.field] = raw[:MAX_VALUE_LENGTH]
    return values
