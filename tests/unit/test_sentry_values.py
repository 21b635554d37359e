"""Sentry values into work item fields (pure): which map applies, what it writes."""

from __future__ import annotations

import pytest

from shared.issue_links.sentry_values import (
    IssueFacts,
    applicable,
    check_source,
    mapped_values,
    needs_event,
)
from shared.store.records import FieldMap

SEVERITY = "Microsoft.VSTS.Common.Severity"
MAPS = [
    FieldMap("*", "*", "level", SEVERITY, (("fatal", "1 - Critical"),)),
    FieldMap("Fabrikam", "*", "level", SEVERITY, (("fatal", "2 - High"),)),
    FieldMap("Fabrikam", "Bug", "level", SEVERITY, (("FATAL", "1 - Critical"), ("error", "3"))),
    FieldMap("*", "Task", "release", "Microsoft.VSTS.Build.FoundIn"),
]


@pytest.mark.parametrize(
    ("project", "kind", "expected"),
    [
        ("Fabrikam", "Bug", {SEVERITY: "1 - Critical"}),  # project and type
        ("fabrikam", "Epic", {SEVERITY: "2 - High"}),  # the project, any type
        ("Other", "Bug", {SEVERITY: "1 - Critical"}),  # any, any
        ("Other", "Task", {SEVERITY: "1 - Critical", "Microsoft.VSTS.Build.FoundIn": "web@2"}),
    ],
)
def test_the_most_specific_map_of_each_field_applies(project, kind, expected):
    facts = IssueFacts({"level": "fatal", "release": "web@2"})
    assert mapped_values(applicable(MAPS, project, kind), facts) == expected


def test_unlisted_and_missing_values_set_nothing():
    maps = applicable(MAPS, "Fabrikam", "Bug")
    assert mapped_values(maps, IssueFacts({"level": "warning"})) == {}
    assert mapped_values(maps, IssueFacts({})) == {}
    assert mapped_values(maps, IssueFacts({"level": "Error"})) == {SEVERITY: "3"}  # any case


def test_tags_come_from_the_event_and_ask_for_it():
    maps = [FieldMap("*", "*", "tags.customer", "Custom.Customer")]
    assert needs_event(maps) and not needs_event(MAPS)
    assert mapped_values(maps, IssueFacts({}, {"customer": "Contoso"})) == {
        "Custom.Customer": "Contoso"
    }


@pytest.mark.parametrize("source", ["level", "userCount", "tags.customer", "link"])
def test_sources(source):
    assert check_source(source) == source


@pytest.mark.parametrize("source", ["tags.", "colour", ""])
def test_unknown_sources_are_refused(source):
    with pytest.raises(ValueError):
        check_source(source)
