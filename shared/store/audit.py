"""The one writer of the audit trail: one row per decision (applied, skipped and why, failed
and how). Table ``audit``, partition = integration id, row key = inverted time + random suffix
(``store.keys``), so a partition reads newest first. Rows for one work item are a filter on
``WorkItemId``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.store.keys import audit_row_at, new_audit_row
from shared.store.storage import AUDIT, Storage, delete_rows, storage_errors

APPLIED, SKIPPED, FAILED, POISONED = "applied", "skipped", "failed", "poisoned"
# What a decision was about: the console shows the last of each kind and its age.
KIND_DEVOPS, KIND_SENTRY, KIND_ALERT = "Azure DevOps changes", "Sentry events", "Sentry alerts"
KIND_RELEASE, KIND_SWEEP, KIND_UPKEEP = "releases", "sweep", "upkeep"
KINDS = (KIND_DEVOPS, KIND_SENTRY, KIND_ALERT, KIND_RELEASE, KIND_SWEEP, KIND_UPKEEP)
# Where poisoned messages that name no valid integration are recorded.
UNREADABLE_PARTITION = "unreadable"


@dataclass(frozen=True)
class AuditEntry:
    work_item_id: int
    rev: int
    outcome: str
    action: str
    reason: str
    sentry_org: str | None = None
    issue_id: str | None = None
    error: str | None = None
    attempt: int | None = None
    kind: str | None = None  # what the decision was about (KINDS), for the console


MAX_SCANNED = 20_000  # audit rows looked through for one work item's history


class AuditLog:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def record(self, integration_id: str, entry: AuditEntry) -> None:
        now = datetime.now(UTC)
        row: dict[str, Any] = {
            "PartitionKey": integration_id,
            "RowKey": new_audit_row(now),
            "Time": now,
            "WorkItemId": entry.work_item_id,
            "Rev": entry.rev,
            "Outcome": entry.outcome,
            "Action": entry.action,
            "Reason": entry.reason[:1000],
        }
        for name, value in (
            ("SentryOrg", entry.sentry_org),
            ("IssueId", entry.issue_id),
            ("Error", entry.error),
            ("Attempt", entry.attempt),
            ("Kind", entry.kind),
        ):
            if value is not None:
                row[name] = value
        with storage_errors():
            self._storage.table(AUDIT).create_entity(row)

    def read(
        self, integration_id: str, work_item_id: int | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """Newest first."""
        # Newest first, one RowKey range; for one work item the newest ``MAX_SCANNED`` rows
        # are looked through, not the whole 90 days (a filter on a column scans).
        query = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        params: dict[str, Any] = {"pk": integration_id, "lo": "", "hi": "~"}
        rows: list[dict[str, Any]] = []
        scanned = 0
        page = 1000 if work_item_id else min(limit, 1000)
        with storage_errors():
            for entity in self._storage.table(AUDIT).query_entities(
                query, parameters=params, results_per_page=page
            ):
                scanned += 1
                if work_item_id is None or entity.get("WorkItemId") == work_item_id:
                    rows.append(_public(entity))
                if len(rows) >= limit or scanned >= MAX_SCANNED:
                    break
        return rows

    def page(
        self,
        integration_id: str,
        keep: Callable[[dict[str, Any]], bool],
        after: str = "",
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first from ``after`` (a cursor this returned), the rows ``keep`` accepts:
        at most ``limit``, looking through at most ``MAX_SCANNED`` rows (a filter on a column
        would scan the partition). Returns the rows and the cursor of the next page (None: the
        end)."""
        rows: list[dict[str, Any]] = []
        scanned, last = 0, None
        with storage_errors():
            for entity in self._storage.table(AUDIT).query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": integration_id, "lo": after, "hi": "~"},
                results_per_page=1000,
            ):
                if after and entity["RowKey"] == after:
                    continue  # the previous page's last row
                scanned += 1
                last = entity["RowKey"]
                row = _public(entity)
                if keep(row):
                    rows.append(row)
                if len(rows) >= limit or scanned >= MAX_SCANNED:
                    return rows, last
        return rows, None

    def since(
        self, integration_id: str, since: datetime, limit: int = 5000
    ) -> list[dict[str, Any]]:
        """Rows newer than ``since``, newest first, at most ``limit`` (one RowKey range:
        inverted time puts every newer row before the cut)."""
        rows: list[dict[str, Any]] = []
        with storage_errors():
            for entity in self._storage.table(AUDIT).query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": integration_id, "lo": "", "hi": audit_row_at(since)},
                results_per_page=1000,
            ):
                rows.append(_public(entity))
                if len(rows) >= limit:
                    break
        return rows

    def delete_before(self, integration_id: str, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` rows older than ``before``; returns how many."""
        old: list[str] = []
        with storage_errors():
            table = self._storage.table(AUDIT)
            # Inverted time: every row older than the cut sorts after its key.
            for row in table.query_entities(
                "PartitionKey eq @pk and RowKey gt @cut",
                parameters={"pk": integration_id, "cut": audit_row_at(before)},
                select=["RowKey"],
            ):
                old.append(row["RowKey"])
                if len(old) >= limit:
                    break
            delete_rows(table, integration_id, old)
        return len(old)


def _public(entity: Any) -> dict[str, Any]:
    row = {
        "time": entity["Time"].isoformat(),
        "workItemId": entity["WorkItemId"],
        "rev": entity["Rev"],
        "outcome": entity["Outcome"],
        "action": entity["Action"],
        "reason": entity["Reason"],
    }
    for key, name in (
        ("SentryOrg", "sentryOrg"),
        ("IssueId", "issueId"),
        ("Error", "error"),
        ("Attempt", "attempt"),
        ("Kind", "kind"),
    ):
        if key in entity:
            row[name] = entity[key]
    return row
