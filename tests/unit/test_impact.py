"""Live impact (pure): what a work item's issues say together, and what needs writing."""

from __future__ import annotations

import pytest

from shared.sentry.shapes import SentryIssue
from shared.store.records import FieldMap
from shared.sweep.impact import changes, facts_of, same


def _issue(count: str | None, users: str | None, seen: str | None) -> SentryIssue:
    return SentryIssue.model_validate(
        {"id": "1", "status": "unresolved", "count": count, "userCount": users, "lastSeen": seen}
    )


def test_counts_add_up_and_the_latest_sighting_wins():
    facts = facts_of([
        _issue("12", "3", "2026-12-03T06:00:00Z"),
        _issue("5", None, "2026-12-03T07:30:00.123Z"),
        _issue(None, "1", None),
    ])  # fmt: skip
    assert facts.get("count") == "17" and facts.get("userCount") == "4"
    assert facts.get("lastSeen") == "2026-12-03T07:30:00.123Z"
    assert facts_of([_issue(None, None, None)]).get("count") is None


@pytest.mark.parametrize(
    ("current", "wanted", "equal"),
    [
        (17, "17", True),
        ("17", "17", True),
        (16, "17", False),
        (None, "17", False),
        ("2026-12-03T07:00:00.000Z", "2026-12-03T07:00:00Z", True),
        ("2026-12-03T07:00:01Z", "2026-12-03T07:00:00Z", False),
        ("abc", "abd", False),
    ],
)
def test_a_value_already_there_is_not_written_again(current, wanted, equal):
    assert same(current, wanted) is equal


def test_only_what_differs_is_written():
    maps = [
        FieldMap("*", "*", "count", "Custom.Events", live=True),
        FieldMap("*", "*", "userCount", "Custom.Users", live=True),
    ]
    facts = facts_of([_issue("12", "3", None)])
    assert changes(maps, facts, {"Custom.Events": 12, "Custom.Users": 2}) == {"Custom.Users": "3"}
