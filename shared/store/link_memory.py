"""The one writer of a link's memory, its lease and its repair marks (``links`` table).

Every write here is conditional on the ETag the caller read, and a caller only writes a row
whose lease it holds or found free, so no run writes a link's memory while another holds it:

* ``record``  memory only (nothing for Sentry), on a row whose lease was free when read;
* ``claim``   the lease *and* the new memory with the fields to settle in ``Pending``
              (write-ahead: the wish is durable before Sentry is called);
* ``renew``   a longer lease, before a Sentry write, if too little of it is left;
* ``finish``  ``Pending`` cleared and the lease released, after Sentry was brought in line;
* ``release`` the lease released with ``Pending`` kept, after a failure.

A failed condition raises ``LinkChanged``: the caller reads the row again and decides anew.

Repair marks, ``w:<work item>:~p:<slug>:<issue>``, name fields Sentry may hold a stale value
for although the memory's ``Pending`` says nothing (a run was overtaken after it wrote, or the
reconcile found Sentry differing). They are separate rows so that marking never touches a link
another run holds; the next run that settles the link deletes the mark it settled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import UpdateMode

from shared.errors import SyncError
from shared.store.keys import (
    WORK_ITEM_ROWS,
    links_and_repairs_range,
    marked_link_row,
    repair_row,
    swept_link_row,
    swept_row,
    work_item_of,
    work_item_prefix,
)
from shared.store.records import SYNCED_FIELDS, Link, LinkMemory, link_from_row
from shared.store.storage import LINKS, Storage, storage_errors

_EPOCH = datetime.fromtimestamp(0, UTC)


class LinkChanged(SyncError):
    """The link row changed since it was read (another run claimed or recorded it)."""


def now() -> datetime:
    """The time leases are measured against (tests move it)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class RepairMark:
    row_key: str
    link_row: str
    fields: frozenset[str]
    etag: str


def _memory_columns(memory: LinkMemory) -> dict[str, Any]:
    status = memory.status
    columns: dict[str, Any] = {
        "StateRev": status.rev,
        "LastState": status.state or "",
        "CrossRev": status.cross_rev,
        "AssigneeRev": memory.assignee_rev,
        "Pending": ",".join(f for f in SYNCED_FIELDS if f in memory.pending),
    }
    if status.cross_done is not None:
        columns["CrossDone"] = status.cross_done
    if memory.assignee is not None:
        columns["AssigneeTarget"] = memory.assignee
    return columns


class LinkMemoryStore:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    # -- reads ------------------------------------------------------------------------------

    def read(self, integration_id: str, work_item_id: int) -> tuple[list[Link], list[RepairMark]]:
        """The work item's links and its repair marks: one range query."""
        lo, hi = links_and_repairs_range(work_item_id)
        links: list[Link] = []
        marks: list[RepairMark] = []
        with storage_errors():
            rows = self._storage.table(LINKS).query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": integration_id, "lo": lo, "hi": hi},
            )
            for row in rows:
                if "SentryOrg" in row:
                    links.append(link_from_row(row))
                elif (link_row := marked_link_row(row["RowKey"])) is not None:
                    marks.append(
                        RepairMark(
                            row_key=row["RowKey"],
                            link_row=link_row,
                            fields=frozenset(f for f in (row.get("Fields") or "").split(",") if f),
                            etag=row.metadata["etag"],
                        )
                    )
        return links, marks

    def page(
        self, integration_id: str, after: str | None, rows: int
    ) -> tuple[list[Link], set[str], dict[str, str], str | None]:
        """One page of every link, in row-key order from ``after`` (a work item's prefix):
        the links, the link rows with a repair mark, what the sweep last saw of each
        (``swept``, by link row) and where the next page starts (None: this was the last).

        About ``rows`` rows are read, one RowKey range; a work item is never split across two
        pages (its repair marks sort after its links), so a page may run a little over."""
        links: list[Link] = []
        marked: set[str] = set()
        swept: dict[str, str] = {}
        lo, hi = WORK_ITEM_ROWS
        read = 0
        current: int | None = None
        with storage_errors():
            found = self._storage.table(LINKS).query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": integration_id, "lo": after or lo, "hi": hi},
                results_per_page=min(max(rows, 1), 1000),
            )
            for row in found:
                key = row["RowKey"]
                work_item = work_item_of(key)
                if read >= rows and work_item != current:
                    return links, marked, swept, work_item_prefix(work_item)
                read += 1
                current = work_item
                if "SentryOrg" in row:
                    links.append(link_from_row(row))
                elif (link_row := marked_link_row(key)) is not None:
                    marked.add(link_row)
                elif (link_row := swept_link_row(key)) is not None:
                    swept[link_row] = str(row.get("Seen") or "")
        return links, marked, swept, None

    def mark_swept(self, integration_id: str, seen: dict[Link, str]) -> None:
        """Remember what the sweep saw of each link's issue (100 rows per transaction)."""
        entities = [
            {
                "PartitionKey": integration_id,
                "RowKey": swept_row(link.work_item_id, link.sentry_org, link.issue_id),
                "Seen": value,
            }
            for link, value in seen.items()
        ]
        table = self._storage.table(LINKS)
        with storage_errors():
            for start in range(0, len(entities), 100):
                table.submit_transaction(
                    [
                        ("upsert", entity, {"mode": UpdateMode.REPLACE})
                        for entity in entities[start : start + 100]
                    ]
                )

    # -- writes of the link row -------------------------------------------------------------

    def record(self, link: Link, memory: LinkMemory) -> str:
        return self._write(link, _memory_columns(memory), link.etag)

    def claim(self, link: Link, memory: LinkMemory, seconds: float) -> str:
        columns = _memory_columns(memory)
        columns["LeaseUntil"] = now() + timedelta(seconds=seconds)
        return self._write(link, columns, link.etag)

    def renew(self, link: Link, etag: str, seconds: float) -> tuple[str, datetime]:
        until = now() + timedelta(seconds=seconds)
        return self._write(link, {"LeaseUntil": until}, etag), until

    def finish(self, link: Link, etag: str) -> str:
        return self._write(link, {"Pending": "", "LeaseUntil": _EPOCH}, etag)

    def release(self, link: Link, etag: str) -> str:
        return self._write(link, {"LeaseUntil": _EPOCH}, etag)

    def _write(self, link: Link, columns: dict[str, Any], etag: str | None) -> str:
        if etag is None:
            raise LinkChanged(f"link {link.row_key} was read without an ETag")
        entity = {"PartitionKey": link.integration_id, "RowKey": link.row_key, **columns}
        with storage_errors():
            try:
                result = self._storage.table(LINKS).update_entity(
                    entity,
                    mode=UpdateMode.MERGE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                raise LinkChanged(f"link {link.row_key} changed since it was read") from None
        return str(result["etag"])

    # -- repair marks -----------------------------------------------------------------------

    def mark_repair(self, link: Link, fields: frozenset[str]) -> None:
        """Remember that Sentry may hold stale ``fields`` for this link (never lost: merged)."""
        key = repair_row(link.work_item_id, link.sentry_org, link.issue_id)
        table = self._storage.table(LINKS)
        with storage_errors():
            for _ in range(5):
                try:
                    row = table.get_entity(link.integration_id, key)
                except ResourceNotFoundError:
                    row = None
                known = frozenset((row.get("Fields") or "").split(",")) if row else frozenset()
                merged = ",".join(f for f in SYNCED_FIELDS if f in fields | known)
                entity = {"PartitionKey": link.integration_id, "RowKey": key, "Fields": merged}
                try:
                    if row is None:
                        table.create_entity(entity)
                    else:
                        table.update_entity(
                            entity,
                            mode=UpdateMode.REPLACE,
                            etag=row.metadata["etag"],
                            match_condition=MatchConditions.IfNotModified,
                        )
                    return
                except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                    continue  # someone marked it at the same time: merge again
        raise LinkChanged(f"repair mark {key} kept changing")

    def clear_repair(self, integration_id: str, mark: RepairMark) -> None:
        """Delete a mark that was settled, unless someone marked it again meanwhile."""
        with storage_errors():
            try:
                self._storage.table(LINKS).delete_entity(
                    integration_id,
                    mark.row_key,
                    etag=mark.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                pass  # marked again: the next run settles it
