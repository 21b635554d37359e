"""The one writer of link rows (``links`` table): a link between a work item and a Sentry
issue is two rows, written and deleted in one transaction (keys in ``store.keys``). Their
memory columns are written by ``store.link_memory`` only."""

from __future__ import annotations

from datetime import UTC, datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.errors import AlreadyExists, NotFound
from shared.store.integrations import Integrations
from shared.store.keys import (
    WORK_ITEM_ROWS,
    issue_prefix,
    issue_row,
    links_range,
    prefix_range,
    work_item_row,
)
from shared.store.records import Link, link_from_row
from shared.store.storage import LINKS, Storage, delete_rows, storage_errors
from shared.validation import check_issue_id, check_slug, check_work_item_id

_RANGE = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"


class Links:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(LINKS)

    def add(self, integration_id: str, work_item_id: int, slug: str, issue_id: str) -> Link:
        integration = Integrations(self._storage).get(integration_id, with_orgs=True)
        work_item_id = check_work_item_id(work_item_id)
        slug, issue_id = check_slug(slug), check_issue_id(issue_id)
        if slug not in {org.slug for org in integration.sentry_orgs}:
            raise NotFound(f"integration {integration.id} has no Sentry organization {slug}")
        now = datetime.now(UTC)
        common = {
            "PartitionKey": integration.id,
            "WorkItemId": work_item_id,
            "SentryOrg": slug,
            "IssueId": issue_id,
            "CreatedAt": now,
        }
        rows = [
            {
                **common,
                "RowKey": work_item_row(work_item_id, slug, issue_id),
                "StateRev": 0,
                "AssigneeRev": 0,
            },
            {**common, "RowKey": issue_row(slug, issue_id, work_item_id)},
        ]
        with storage_errors():
            try:
                self._table.submit_transaction([("create", row) for row in rows])
            except TableTransactionError as exc:
                if exc.status_code == 409:
                    raise AlreadyExists(
                        f"work item {work_item_id} is already linked to {slug} issue {issue_id}"
                    ) from None
                raise
        return Link(integration.id, work_item_id, slug, issue_id, created_at=now)

    def issue_side(
        self, integration_id: str, work_item_id: int, slug: str, issue_id: str
    ) -> Link | None:
        """The link's ``s:`` row (where the Sentry external issue id is kept), or None."""
        with storage_errors():
            try:
                row = self._table.get_entity(
                    integration_id, issue_row(slug, issue_id, work_item_id)
                )
            except ResourceNotFoundError:
                return None
        return link_from_row(row)

    def set_external_issue(self, link: Link, external_issue_id: str) -> None:
        """Remember how Sentry shows the link (its external issue id), on the ``s:`` row."""
        with storage_errors():
            try:
                self._table.update_entity(
                    {
                        "PartitionKey": link.integration_id,
                        "RowKey": issue_row(link.sentry_org, link.issue_id, link.work_item_id),
                        "ExternalIssueId": external_issue_id,
                    },
                    mode=UpdateMode.MERGE,
                )
            except ResourceNotFoundError:
                raise NotFound("the link was removed meanwhile") from None

    def remove(self, integration_id: str, work_item_id: int, slug: str, issue_id: str) -> None:
        integration = Integrations(self._storage).get(integration_id)
        work_item_id = check_work_item_id(work_item_id)
        slug, issue_id = check_slug(slug), check_issue_id(issue_id)
        keys = [
            work_item_row(work_item_id, slug, issue_id),
            issue_row(slug, issue_id, work_item_id),
        ]
        with storage_errors():
            try:
                self._table.submit_transaction(
                    [("delete", {"PartitionKey": integration.id, "RowKey": key}) for key in keys]
                )
            except TableTransactionError as exc:
                if exc.status_code == 404:
                    raise NotFound(
                        f"work item {work_item_id} is not linked to {slug} issue {issue_id}"
                    ) from None
                raise

    def delete_all(self, integration_id: str) -> None:
        """Every row of a removed integration's partition: links and their markers."""
        with storage_errors():
            rows = self._table.query_entities(
                _RANGE, parameters={"pk": integration_id, "lo": "", "hi": "~"}, select=["RowKey"]
            )
            delete_rows(self._table, integration_id, [row["RowKey"] for row in rows])

    def for_work_item(self, integration_id: str, work_item_id: int) -> list[Link]:
        """Every Sentry issue linked to the work item (one RowKey range: its links only)."""
        lo, hi = links_range(work_item_id)
        with storage_errors():
            rows = self._table.query_entities(
                _RANGE, parameters={"pk": integration_id, "lo": lo, "hi": hi}
            )
            return [link_from_row(row) for row in rows if "SentryOrg" in row]

    def for_issue(self, integration_id: str, slug: str, issue_id: str) -> list[Link]:
        """Every work item linked to the Sentry issue (one range query in one partition)."""
        lo, hi = prefix_range(issue_prefix(check_slug(slug), check_issue_id(issue_id)))
        with storage_errors():
            rows = self._table.query_entities(
                _RANGE, parameters={"pk": integration_id, "lo": lo, "hi": hi}
            )
            return [link_from_row(row) for row in rows]

    def first(self, integration_id: str, slug: str | None = None) -> Link | None:
        """One link (of one Sentry organization), to try a read with: one row, one page."""
        lo, hi = prefix_range(issue_prefix(check_slug(slug)) if slug else "s:")
        with storage_errors():
            rows = self._table.query_entities(
                _RANGE, parameters={"pk": integration_id, "lo": lo, "hi": hi}, results_per_page=1
            )
            row = next(iter(rows), None)
        return link_from_row(row) if row is not None else None

    def list_all(self, integration_id: str) -> list[Link]:
        integration = Integrations(self._storage).get(integration_id)
        lo, hi = WORK_ITEM_ROWS
        with storage_errors():
            rows = self._table.query_entities(
                _RANGE, parameters={"pk": integration.id, "lo": lo, "hi": hi}
            )
            return [link_from_row(row) for row in rows if "SentryOrg" in row]
