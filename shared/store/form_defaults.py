"""The one writer of the create form's remembered choices: per Sentry organization and Sentry
project, the Azure DevOps project, work item type, area and iteration used last (Sentry's own
integration remembers project and type). Table ``integrations``, partition = integration id,
row ``defaults:<slug>:<Sentry project slug>`` (``store.keys``); one point read per select
request that offers them, one upsert per work item created."""

from __future__ import annotations

from dataclasses import dataclass, fields

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.store.keys import form_defaults_row
from shared.store.storage import INTEGRATIONS, Storage, storage_errors

MAX_VALUE = 4000


@dataclass(frozen=True)
class Remembered:
    project: str | None = None
    work_item_type: str | None = None
    area_path: str | None = None
    iteration_path: str | None = None


_COLUMNS = {
    "project": "Project",
    "work_item_type": "WorkItemType",
    "area_path": "AreaPath",
    "iteration_path": "IterationPath",
}


class FormDefaults:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def read(self, integration_id: str, slug: str, project_slug: str) -> Remembered:
        with storage_errors():
            try:
                row = self._storage.table(INTEGRATIONS).get_entity(
                    integration_id, form_defaults_row(slug, project_slug)
                )
            except ResourceNotFoundError:
                return Remembered()
        return Remembered(**{name: row.get(column) or None for name, column in _COLUMNS.items()})

    def remember(
        self, integration_id: str, slug: str, project_slug: str, choices: Remembered
    ) -> None:
        """Replace the remembered choices (a field left empty is forgotten)."""
        row: dict[str, object] = {
            "PartitionKey": integration_id,
            "RowKey": form_defaults_row(slug, project_slug),
        }
        for item in fields(Remembered):
            value = getattr(choices, item.name)
            if value:
                row[_COLUMNS[item.name]] = value[:MAX_VALUE]
        with storage_errors():
            self._storage.table(INTEGRATIONS).upsert_entity(row, mode=UpdateMode.REPLACE)
