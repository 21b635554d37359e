"""``integration field-map``: a Sentry value into a work item field, checked against Azure
DevOps when it is set up, so a map to a field the type lacks is refused then, not skipped
unseen at every create."""

from __future__ import annotations

from shared.clients import azure_devops_client
from shared.errors import InvalidInput
from shared.http import ApiNotFound
from shared.issue_links.sentry_values import LIVE_SOURCES, check_source
from shared.issue_links.type_fields import allowed_options
from shared.store.integrations import Integrations
from shared.store.records import FieldMap, Integration
from shared.store.storage import Storage

MAX_VALUES = 50


def set_field_map(
    storage: Storage,
    integration: Integration,
    *,
    project: str,
    work_item_type: str,
    source: str,
    field: str,
    values: list[str],
    remove: bool = False,
    live: bool = False,
) -> Integration:
    project, work_item_type, field = project.strip(), work_item_type.strip(), field.strip()
    if not project or not work_item_type or not field:
        raise InvalidInput("give --project (name or *), --type (or *) and --field")
    try:
        source = check_source(source.strip())
    except ValueError as exc:
        raise InvalidInput(f"--source {exc}") from None
    table = _table(values)
    if live and source not in LIVE_SOURCES:
        raise InvalidInput(f"--live takes {', '.join(sorted(LIVE_SOURCES))}, not {source}")
    integrations = Integrations(storage)
    if remove:
        return integrations.set_field_map(
            integration.id, FieldMap(project, work_item_type, source, field), remove=True
        )
    client = azure_devops_client(integration)
    if "*" in (project, work_item_type):
        reference = client.field_exists(field)
        if reference is None:
            raise InvalidInput(f"--field: Azure DevOps has no field {field!r}")
    else:
        try:
            fields = client.work_item_type_fields(project, work_item_type)
        except ApiNotFound:
            raise InvalidInput(
                f"--project / --type: Azure DevOps has no type {work_item_type!r} in "
                f"project {project!r}"
            ) from None
        wanted = field.casefold()
        found = next(
            (f for f in fields if wanted in (f.reference_name.casefold(), f.name.casefold())),
            None,
        )
        if found is None:
            raise InvalidInput(f"--field: {work_item_type} in {project} has no field {field!r}")
        reference = found.reference_name
        allowed = allowed_options(fields, reference)
        wrong = [to for _, to in table if allowed and to.casefold() not in
                 {a.casefold() for a in allowed}]  # fmt: skip
        if wrong:
            raise InvalidInput(
                f"--value: {reference} takes {', '.join(allowed[:20])}; not {wrong[0]!r}"
            )
    return integrations.set_field_map(
        integration.id, FieldMap(project, work_item_type, source, reference, table, live)
    )


def _table(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in values:
        sentry, sep, devops = item.partition("=")
        if not sep or not sentry.strip() or not devops.strip():
            raise InvalidInput(f"--value {item!r} is not <Sentry value>=<field value>")
        pairs.append((sentry.strip(), devops.strip()))
    if len(pairs) > MAX_VALUES:
        raise InvalidInput(f"at most {MAX_VALUES} --value pairs")
    return tuple(pairs)
