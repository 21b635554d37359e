"""What a create form (or an alert rule) asks of a work item type's fields, checked against the
type's own field list (pure): Azure DevOps processes differ, and a rule that makes a custom
field required would otherwise fail the create with a message the person cannot act on.

Sentry's UI schema is static, so the form carries a few common fields as dependent selects
(iteration, priority, severity: options from the chosen type) and one free text, "Other
fields", of ``Field=value`` lines for the rest. Every value is checked here against the type:
the field must exist (by reference name or display name, in any case), an allowed value must
be one of the allowed values, and every field the type always requires must be given (or have
a default). Each refusal names the field, as Sentry shows the message next to the form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.azure_devops.shapes import TypeField
from shared.errors import InvalidInput

MAX_OTHER_FIELDS = 50
MAX_FIELD_NAME = 128
MAX_FIELD_VALUE = 4000
# System fields Azure DevOps fills in itself (state, reason, dates, ids...) are never asked
# for, whatever their flags say; the ones we set come from the form's own fields.
_SYSTEM = "system."


@dataclass(frozen=True)
class Asked:
    """One value the form asks for: ``label`` is how the form names it (for messages);
    ``field`` is a reference name, or a name a person typed (``Other fields``)."""

    label: str
    field: str
    value: str


def parse_other_fields(text: str | None, label: str) -> tuple[tuple[str, str], ...]:
    """``Field=value`` lines (blank lines skipped); a malformed line is named by its number."""
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise InvalidInput(f"{label}: line {number} is not Field=value")
        if len(name) > MAX_FIELD_NAME or len(value) > MAX_FIELD_VALUE:
            raise InvalidInput(f"{label}: line {number} is too long")
        pairs.append((name, value))
    if len(pairs) > MAX_OTHER_FIELDS:
        raise InvalidInput(f"{label}: at most {MAX_OTHER_FIELDS} fields")
    return tuple(pairs)


def _find(fields: Iterable[TypeField], name: str) -> TypeField | None:
    wanted = name.casefold()
    by_reference = next((f for f in fields if f.reference_name.casefold() == wanted), None)
    return by_reference or next((f for f in fields if f.name.casefold() == wanted), None)


def _allowed(field: TypeField, value: str) -> Any:
    """The value as Azure DevOps listed it (a number stays a number), if it is allowed."""
    if not field.allowed_values:
        return value
    for allowed in field.allowed_values:
        if str(allowed).casefold() == value.casefold():
            return allowed
    shown = ", ".join(str(v) for v in field.allowed_values[:20])
    more = ", ..." if len(field.allowed_values) > 20 else ""
    raise InvalidInput(f"{field.name or field.reference_name} must be one of: {shown}{more}")


def check_asked(
    fields: list[TypeField],
    asked: Iterable[Asked],
    *,
    set_by_form: Iterable[str],
    what: str,
) -> dict[str, Any]:
    """The values to set, by reference name. ``set_by_form``: reference names the form sets
    itself (title, description, area...), which count as given. ``what``: the type and
    project, for messages ("Bug in Fabrikam")."""
    values: dict[str, Any] = {}
    for item in asked:
        field = _find(fields, item.field)
        if field is None:
            raise InvalidInput(f"{item.label}: {what} has no field {item.field!r}")
        if field.reference_name in values:
            raise InvalidInput(f"{item.label}: {field.reference_name} is given twice")
        try:
            values[field.reference_name] = _allowed(field, item.value)
        except InvalidInput as exc:
            raise InvalidInput(f"{item.label}: {exc}") from None
    given = {*values, *set_by_form}
    missing = [
        f
        for f in fields
        if f.always_required
        and not f.has_default
        and f.reference_name not in given
        and not f.reference_name.casefold().startswith(_SYSTEM)
    ]
    if missing:
        names = ", ".join(f"{f.reference_name} ({f.name})" for f in missing)
        raise InvalidInput(
            f"{what} requires {names}: add a line such as {missing[0].reference_name}=... "
            "to Other fields"
        )
    return values


def fitting(fields: list[TypeField], values: Mapping[str, str]) -> dict[str, Any]:
    """The values the type takes (its field exists, the value is allowed), as Azure DevOps
    lists them; the rest is left out (a field map set up for another type, a Sentry value the
    field does not list)."""
    kept: dict[str, Any] = {}
    for name, value in values.items():
        field = _find(fields, name)
        if field is None:
            continue
        try:
            kept[field.reference_name] = _allowed(field, value)
        except InvalidInput:
            continue
    return kept


def allowed_options(fields: list[TypeField], reference_name: str) -> list[str]:
    """The allowed values of one field of the type, as select options (none: no such field,
    or a field without a list)."""
    field = _find(fields, reference_name)
    return [str(v) for v in field.allowed_values] if field is not None else []


def as_asked(pairs: Iterable[tuple[str, str]], label: str) -> list[Asked]:
    return [Asked(label, name, value) for name, value in pairs]


def form_values(values: Mapping[str, str | None], labels: Mapping[str, str]) -> list[Asked]:
    """The form's own optional fields that are filled in: ``values`` by reference name."""
    return [Asked(labels[name], name, value) for name, value in values.items() if value]
