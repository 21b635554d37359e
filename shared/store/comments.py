"""The one writer of comment pairs: which Sentry note became (or came from) which Azure DevOps
comment on which work item, so edits and deletions follow, and so a comment we made is never
carried back. Two rows per pair in the ``links`` table, written in one transaction, read from
either side (keys in ``store.keys``); ``Origin`` says which side the comment was written on."""

from __future__ import annotations

from dataclasses import dataclass

from azure.data.tables import TableClient, UpdateMode

from shared.store.keys import (
    devops_comment_prefix,
    devops_comment_row,
    note_prefix,
    note_row,
    prefix_range,
)
from shared.store.storage import LINKS, Storage, storage_errors

SENTRY, DEVOPS = "sentry", "devops"
_RANGE = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"


@dataclass(frozen=True)
class CommentPair:
    integration_id: str
    sentry_org: str
    issue_id: str
    note_id: str
    work_item_id: int
    comment_id: int
    origin: str  # SENTRY or DEVOPS: where a person wrote it


def _pair(row: dict) -> CommentPair:
    return CommentPair(
        integration_id=row["PartitionKey"],
        sentry_org=row["SentryOrg"],
        issue_id=row["IssueId"],
        note_id=row["NoteId"],
        work_item_id=int(row["WorkItemId"]),
        comment_id=int(row["CommentId"]),
        origin=row["Origin"],
    )


class Comments:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(LINKS)

    def remember(self, pair: CommentPair) -> None:
        columns = {
            "PartitionKey": pair.integration_id,
            "SentryOrg": pair.sentry_org,
            "IssueId": pair.issue_id,
            "NoteId": pair.note_id,
            "WorkItemId": pair.work_item_id,
            "CommentId": pair.comment_id,
            "Origin": pair.origin,
        }
        keys = (
            note_row(pair.sentry_org, pair.issue_id, pair.note_id, pair.work_item_id),
            devops_comment_row(pair.work_item_id, pair.comment_id, pair.sentry_org, pair.issue_id),
        )
        with storage_errors():
            self._table.submit_transaction(
                [
                    ("upsert", {**columns, "RowKey": key}, {"mode": UpdateMode.REPLACE})
                    for key in keys
                ]
            )

    def forget(self, pair: CommentPair) -> None:
        keys = (
            note_row(pair.sentry_org, pair.issue_id, pair.note_id, pair.work_item_id),
            devops_comment_row(pair.work_item_id, pair.comment_id, pair.sentry_org, pair.issue_id),
        )
        with storage_errors():
            for key in keys:
                self._table.delete_entity(pair.integration_id, key)

    def of_note(
        self, integration_id: str, slug: str, issue_id: str, note_id: str
    ) -> list[CommentPair]:
        return self._read(integration_id, note_prefix(slug, issue_id, note_id))

    def of_devops_comment(
        self, integration_id: str, work_item_id: int, comment_id: int
    ) -> list[CommentPair]:
        return self._read(integration_id, devops_comment_prefix(work_item_id, comment_id))

    def _read(self, integration_id: str, prefix: str) -> list[CommentPair]:
        lo, hi = prefix_range(prefix)
        with storage_errors():
            rows = self._table.query_entities(
                _RANGE, parameters={"pk": integration_id, "lo": lo, "hi": hi}
            )
            return [_pair(row) for row in rows]
