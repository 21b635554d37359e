"""The one writer of comment pairs: which Sentry note became (or came from) which Azure DevOps
comment on which work item, so edits and deletions follow, and so a comment we made is never
carried back. Two rows per pair in the ``links`` table, written in one transaction, read from
either side (keys in ``store.keys``); ``Origin`` says which side the comment was written on.

A note becomes a comment once, however many deliveries or sweeps see it at once: the note's
row for a work item is **claimed** (inserted, without a comment id) before the comment is
added, and **completed** with the comment id, conditional on the claim being unchanged. A
deletion leaves a **tombstone** and marks open claims, so a creation seen after it (or racing
it) leaves no comment behind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.store.keys import (
    devops_comment_prefix,
    devops_comment_row,
    issue_notes_prefix,
    note_prefix,
    note_row,
    note_tombstone_row,
    prefix_range,
)
from shared.store.storage import LINKS, Storage, storage_errors

SENTRY, DEVOPS = "sentry", "devops"
_RANGE = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
# A claim older than this whose run never completed it (the process died) may be taken over.
# Longer than any attempt (the queue's visibility timeout and the HTTP budget).
CLAIM_SECONDS = 600


class ClaimLost(Exception):
    """The claim changed under us: the note was deleted, or another run took it over."""


@dataclass(frozen=True)
class Claim:
    """A note's row for one work item, held by this run until ``complete``."""

    integration_id: str
    sentry_org: str
    issue_id: str
    note_id: str
    work_item_id: int
    etag: str


@dataclass(frozen=True)
class NoteState:
    """What is known of one note: its pairs (a comment made), open claims (work items where a
    run is adding one now; the time each was claimed), and whether Sentry deleted it."""

    pairs: tuple[CommentPair, ...]
    claims: dict[int, datetime]
    deleted: bool


@dataclass(frozen=True)
class CommentPair:
    integration_id: str
    sentry_org: str
    issue_id: str
    note_id: str
    work_item_id: int
    comment_id: int
    origin: str  # SENTRY or DEVOPS: where a person wrote it


def _is_pair(row: dict) -> bool:
    return row.get("CommentId") is not None and not row["RowKey"].endswith("~deleted")


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
        return list(self.note_state(integration_id, slug, issue_id, note_id).pairs)

    def note_state(
        self, integration_id: str, slug: str, issue_id: str, note_id: str
    ) -> NoteState:
        """Pairs, open claims and tombstone of one note (one range query)."""
        rows = self._rows(integration_id, note_prefix(slug, issue_id, note_id))
        tombstone = note_tombstone_row(slug, issue_id, note_id)
        return NoteState(
            pairs=tuple(_pair(row) for row in rows if _is_pair(row)),
            claims={
                int(row["WorkItemId"]): row.get("ClaimedAt") or datetime.now(UTC)
                for row in rows
                if row["RowKey"] != tombstone and row.get("CommentId") is None
            },
            deleted=any(row["RowKey"] == tombstone for row in rows),
        )

    def of_issue(
        self, integration_id: str, slug: str, issue_id: str
    ) -> dict[str, tuple[bool, bool]]:
        """Every note of the issue we have rows for (one range query): by note id, whether we
        carried it to Azure DevOps (a pair, written from Sentry), and whether it is deleted."""
        known: dict[str, tuple[bool, bool]] = {}
        for row in self._rows(integration_id, issue_notes_prefix(slug, issue_id)):
            note = str(row.get("NoteId") or "")
            carried, deleted = known.get(note, (False, False))
            if row["RowKey"].endswith("~deleted"):
                deleted = True
            elif _is_pair(row) and row.get("Origin") == SENTRY:
                carried = True
            known[note] = (carried, deleted)
        return known

    def claim(
        self,
        integration_id: str,
        slug: str,
        issue_id: str,
        note_id: str,
        work_item_id: int,
        *,
        take_over: bool = False,
    ) -> Claim | None:
        """Claim the note for the work item (insert if absent); None if another run holds
        it. With ``take_over``, a claim older than ``CLAIM_SECONDS`` is taken over (the run
        that made it died), conditional on it being unchanged."""
        key = note_row(slug, issue_id, note_id, work_item_id)
        now = datetime.now(UTC)
        row = {
            "PartitionKey": integration_id,
            "RowKey": key,
            "SentryOrg": slug,
            "IssueId": issue_id,
            "NoteId": note_id,
            "WorkItemId": work_item_id,
            "Origin": SENTRY,
            "ClaimedAt": now,
        }
        with storage_errors():
            try:
                made = self._table.create_entity(row)
                return Claim(integration_id, slug, issue_id, note_id, work_item_id, made["etag"])
            except ResourceExistsError:
                if not take_over:
                    return None
                held = self._table.get_entity(integration_id, key)
            if held.get("CommentId") is not None or held.get("Deleted"):
                return None
            claimed_at = held.get("ClaimedAt")
            if claimed_at and now - claimed_at < timedelta(seconds=CLAIM_SECONDS):
                return None
            try:
                made = self._table.update_entity(
                    row,
                    mode=UpdateMode.REPLACE,
                    etag=held.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return None
        return Claim(integration_id, slug, issue_id, note_id, work_item_id, made["etag"])

    def complete(self, claim: Claim, comment_id: int) -> None:
        """The claimed note became ``comment_id``: both pair rows, the note's conditional on
        the claim being as we made it (``ClaimLost`` if it was deleted or taken over)."""
        columns = {
            "PartitionKey": claim.integration_id,
            "SentryOrg": claim.sentry_org,
            "IssueId": claim.issue_id,
            "NoteId": claim.note_id,
            "WorkItemId": claim.work_item_id,
            "CommentId": comment_id,
            "Origin": SENTRY,
        }
        note = note_row(claim.sentry_org, claim.issue_id, claim.note_id, claim.work_item_id)
        back = devops_comment_row(
            claim.work_item_id, comment_id, claim.sentry_org, claim.issue_id
        )
        with storage_errors():
            try:
                self._table.submit_transaction(
                    [
                        (
                            "update",
                            {**columns, "RowKey": note},
                            {
                                "mode": UpdateMode.REPLACE,
                                "etag": claim.etag,
                                "match_condition": MatchConditions.IfNotModified,
                            },
                        ),
                        ("upsert", {**columns, "RowKey": back}, {"mode": UpdateMode.REPLACE}),
                    ]
                )
            except TableTransactionError as exc:
                if exc.status_code in (404, 412):
                    raise ClaimLost(f"note {claim.note_id}: the claim changed") from None
                raise

    def release(self, claim: Claim) -> None:
        """Give a claim up (adding the comment failed for sure), so a retry may claim it."""
        key = note_row(claim.sentry_org, claim.issue_id, claim.note_id, claim.work_item_id)
        with storage_errors():
            try:
                self._table.delete_entity(
                    claim.integration_id,
                    key,
                    etag=claim.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                pass  # deleted or taken over meanwhile: not ours to remove

    def tombstone(self, integration_id: str, slug: str, issue_id: str, note_id: str) -> None:
        """Sentry deleted the note: remember it, and mark open claims so that a run adding a
        comment for it now finds its claim changed and takes the comment back."""
        state_rows = self._rows(integration_id, note_prefix(slug, issue_id, note_id))
        stone = note_tombstone_row(slug, issue_id, note_id)
        with storage_errors():
            self._table.upsert_entity(
                {
                    "PartitionKey": integration_id,
                    "RowKey": stone,
                    "SentryOrg": slug,
                    "IssueId": issue_id,
                    "NoteId": note_id,
                    "DeletedAt": datetime.now(UTC),
                },
                mode=UpdateMode.REPLACE,
            )
            for row in state_rows:
                if row["RowKey"] != stone and row.get("CommentId") is None:
                    try:
                        self._table.update_entity(
                            {
                                "PartitionKey": integration_id,
                                "RowKey": row["RowKey"],
                                "Deleted": True,
                            },
                            mode=UpdateMode.MERGE,
                        )
                    except ResourceNotFoundError:
                        pass

    def of_devops_comment(
        self, integration_id: str, work_item_id: int, comment_id: int
    ) -> list[CommentPair]:
        return self._read(integration_id, devops_comment_prefix(work_item_id, comment_id))

    def _read(self, integration_id: str, prefix: str) -> list[CommentPair]:
        return [_pair(row) for row in self._rows(integration_id, prefix) if _is_pair(row)]

    def _rows(self, integration_id: str, prefix: str) -> list[dict]:
        lo, hi = prefix_range(prefix)
        with storage_errors():
            return list(
                self._table.query_entities(
                    _RANGE, parameters={"pk": integration_id, "lo": lo, "hi": hi}
                )
            )
