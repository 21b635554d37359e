"""The create form's fields checked against a work item type's own (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.azure_devops.shapes import TypeField
from shared.errors import InvalidInput
from shared.issue_links.type_fields import Asked, check_asked, parse_other_fields


def _field(reference: str, name: str = "", **more) -> TypeField:
    return TypeField.model_validate({"referenceName": reference, "name": name or reference, **more})


FIELDS = [
    _field("System.Title", "Title", alwaysRequired=True),
    _field("System.Reason", "Reason", alwaysRequired=True),  # Azure DevOps fills it in
    _field("Microsoft.VSTS.Common.Priority", "Priority", allowedValues=[1, 2, 3, 4]),
    _field("Custom.Team", "Team", allowedValues=["Payments", "Search"]),
    _field("Custom.Owner", "Owner", alwaysRequired=True, defaultValue="nobody"),
    _field("Custom.Note", "Note"),
]


def _check(*asked: Asked, fields=FIELDS, by_form=("System.Title",)):
    return check_asked(fields, asked, set_by_form=by_form, what="Bug in Fabrikam")


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ((), {}),
        ((Asked("priority", "Microsoft.VSTS.Common.Priority", "3"),), {"Microsoft.VSTS.Common.Priority": 3}),
        ((Asked("otherFields", "team", "SEARCH"),), {"Custom.Team": "Search"}),
        ((Asked("otherFields", "custom.note", "any text"),), {"Custom.Note": "any text"}),
    ],
)  # fmt: skip
def test_accepted(asked, expected):
    assert _check(*asked) == expected


@pytest.mark.parametrize(
    ("asked", "fields", "says"),
    [
        ((Asked("otherFields", "Custom.Nope", "1"),), FIELDS, "otherFields: Bug in Fabrikam has no field 'Custom.Nope'"),
        ((Asked("priority", "Microsoft.VSTS.Common.Priority", "0"),), FIELDS, "priority: Priority must be one of: 1, 2, 3, 4"),
        ((Asked("a", "Team", "Payments"), Asked("b", "Custom.Team", "Search")), FIELDS, "b: Custom.Team is given twice"),
        ((), [*FIELDS, _field("Custom.Must", "Must", alwaysRequired=True)], "Bug in Fabrikam requires Custom.Must (Must)"),
    ],
)  # fmt: skip
def test_refused_naming_the_field(asked, fields, says):
    with pytest.raises(InvalidInput) as exc:
        _check(*asked, fields=fields)
    assert says in str(exc.value)


def test_a_required_field_the_form_sets_itself_is_given():
    assert _check(fields=[_field("Custom.Must", alwaysRequired=True)], by_form=("Custom.Must",)) == {}


names = st.text(st.characters(min_codepoint=65, max_codepoint=90), min_size=1, max_size=8)


@given(st.dictionaries(names, st.lists(names, min_size=1, max_size=4, unique=True), max_size=6), st.data())
def test_any_allowed_choice_is_kept_as_listed(table, data):
    fields = [_field(f"Custom.{n}", n, allowedValues=values) for n, values in table.items()]
    asked = {n: data.draw(st.sampled_from(values)) for n, values in table.items()}
    got = _check(*(Asked(n, n.lower(), v.lower()) for n, v in asked.items()), fields=fields)
    assert got == {f"Custom.{n}": v for n, v in asked.items()}


# A value is one line: no control or line-separator characters (str.splitlines splits on them).
values = st.text(st.characters(blacklist_categories=("Cc", "Zl", "Zp")), max_size=20)


@given(st.lists(st.tuples(names, values), max_size=10))
def test_other_fields_lines_round_trip(pairs):
    text = "\n".join(f"{name} = {value}" for name, value in pairs)
    assert parse_other_fields(text, "otherFields") == tuple(
        (name, value.strip()) for name, value in pairs
    )
