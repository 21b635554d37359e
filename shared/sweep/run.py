"""The sweep of every link: Sentry's current state, read 100 issues a call, compared with each
link's memory and with what the last sweep saw (``rules``), and carried through the paths a
webhook or a lost write takes:

* Sentry -> Azure DevOps: a Sentry event message, as if the webhook had arrived (SentryEvents
  reads both sides again and moves the work item);
* an unfinished write of ours, or Sentry to be corrected: a settle message for SyncStatus
  (with a repair mark for a correction).

It runs in **chunks** of about ``CHUNK_ROWS`` link rows, one per message on the Sentry queue,
each queueing the next (``store.sweeps`` keeps the chain single), so that no run nears the
function timeout whatever the number of links: one chunk costs one or two range reads, at most
``CHUNK_ROWS / 100`` Sentry reads (fewer: a chunk's rows include delivery markers), a member
lookup per changed assignee (cached), and writes only for what changed. When Sentry's
rate-limit window is nearly spent it stops and the chunk is queued again for when the window
resets, rather than being throttled.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.clients import sentry_client
from shared.errors import ConfigurationError, NotFound
from shared.http import ApiError
from shared.log import log_event
from shared.messages.sentry_event import MAX_COMMENT_CHARACTERS, SentryEventMessage, SweepChunk
from shared.messages.sync import SyncMessage
from shared.sentry.client import MAX_ISSUES_PER_READ
from shared.sentry.shapes import SentryIssue
from shared.sentry.webhooks import Actor, CommentData, Issue, IssueData
from shared.store.audit import KIND_SWEEP, SKIPPED, AuditEntry, AuditLog
from shared.store.comments import Comments
from shared.store.integrations import Integrations
from shared.store.link_memory import LinkMemoryStore
from shared.store.links import Links
from shared.store.records import ASSIGNEE, STATUS, Integration, Link, SentryOrg
from shared.store.storage import Storage
from shared.store.sweeps import DONE, Sweeps
from shared.sweep.impact import update_impact
from shared.sweep.rounds import SWEEP, queue_chunk
from shared.sweep.rules import (
    Directions,
    Plan,
    Seen,
    needs_member,
    notes_to_carry,
    plan,
    was_shown,
)

CHUNK_ROWS = 2000
RATE_FLOOR = 3  # calls left in Sentry's window below which a chunk stops and waits


@dataclass(frozen=True)
class Difference:
    link: Link
    plan: Plan

    def to_public(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "workItemId": self.link.work_item_id,
            "sentryOrg": self.link.sentry_org,
            "issueId": self.link.issue_id,
            "why": self.plan.why,
        }
        if self.plan.settle or self.plan.fix_sentry:
            shown["fields"] = sorted(self.plan.settle | self.plan.fix_sentry)
        if self.plan.to_devops:
            shown["toAzureDevOps"] = sorted(self.plan.to_devops)
        return shown


@dataclass
class SweepReport:
    checked: int = 0
    sentry_reads: int = 0
    differences: list[Difference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    next_after: str | None = None  # where the next chunk starts (None: the sweep is done)
    wait: float | None = None  # set when the chunk stopped for Sentry's rate limit
    impact_writes: int = 0  # work items whose live impact fields were written

    def add(self, other: SweepReport) -> None:
        self.checked += other.checked
        self.sentry_reads += other.sentry_reads
        self.impact_writes += other.impact_writes
        self.differences += other.differences
        self.errors += other.errors


class Sweep:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._memory = LinkMemoryStore(storage)
        self._audit = AuditLog(storage)

    # -- entry points -------------------------------------------------------------------------

    def run_queued(self, integration: Integration, chunk: SweepChunk) -> SweepReport:
        """SentryEvents: one chunk of a round, then the next one queued (by one run only)."""
        report = self.chunk(integration, chunk.after or None)
        if report.wait is not None:  # Sentry's window is spent: the same chunk, later
            queue_chunk(self._storage, integration.id, chunk, delay=int(report.wait) + 1)
            return report
        next_after = report.next_after or DONE
        if not Sweeps(self._storage).advance(integration.id, chunk.round, chunk.after, next_after):
            log_event("sweep.stale_chunk", integration=integration.id, round=chunk.round)
        elif report.next_after is not None:
            queue_chunk(
                self._storage,
                integration.id,
                SweepChunk(round=chunk.round, after=report.next_after),
            )
        return report

    def run_all(self, integration_id: str, *, dry_run: bool = False) -> SweepReport:
        """``reconcile``: every chunk in this process (stops early at Sentry's rate limit)."""
        integration = Integrations(self._storage).get(integration_id, with_orgs=True)
        total = SweepReport()
        after: str | None = None
        while True:
            report = self.chunk(integration, after, dry_run=dry_run)
            total.add(report)
            if report.wait is not None:
                total.wait, total.next_after = report.wait, after
                total.errors.append(
                    f"stopped at Sentry's rate limit; run again in {int(report.wait) + 1} s"
                )
                return total
            if report.next_after is None:
                return total
            after = report.next_after

    # -- one chunk ----------------------------------------------------------------------------

    def chunk(
        self, integration: Integration, after: str | None, *, dry_run: bool = False
    ) -> SweepReport:
        links, marked, swept, next_after = self._memory.page(integration.id, after, CHUNK_ROWS)
        report = SweepReport(next_after=next_after)
        now = datetime.now(UTC)
        by_org: dict[str, list[Link]] = defaultdict(list)
        for link in links:
            org = integration.sentry_org(link.sentry_org)
            if org is None or org.uninstalled or link.leased(now):
                continue  # not synced into, or a run is on it right now
            by_org[link.sentry_org].append(link)
        directions = Directions(
            integration.sync.status_to_devops,
            integration.sync.assignee_to_devops,
            integration.sync.comments,
        )
        plans: list[tuple[Link, Plan]] = []
        read_issues: list[tuple[Link, SentryIssue]] = []
        for slug, org_links in by_org.items():
            if report.wait is not None:
                break  # Sentry's window is spent: the rest waits with the chunk
            org = integration.sentry_org(slug)
            assert org is not None
            found, asked = self._read(org, org_links, report)
            client = sentry_client(org)
            for link in org_links:
                if link.issue_id not in asked:
                    # Not read (a failed or postponed read): nothing is known. An unfinished
                    # write waits too: while the organization's token fails, queueing its
                    # settle each round would only fail again, round after round.
                    continue
                report.checked += 1
                issue = found.get(link.issue_id)
                if issue is not None:
                    read_issues.append((link, issue))
                state = (
                    Seen(
                        issue.status,
                        issue.assignee_key,
                        issue.substatus,
                        issue.shows_link(integration.base_url, link.work_item_id),
                        issue.num_comments,
                    )
                    if issue is not None
                    else None
                )
                last = swept.get(link.row_key)
                only_link = False
                if state is not None and was_shown(last) and not state.shown:
                    # Gone from the sidebar: an unlink there, if no other link replaced it.
                    links_of_issue = Links(self._storage).for_issue(
                        integration.id, slug, link.issue_id
                    )
                    only_link = len(links_of_issue) == 1
                member = None
                if needs_member(link.memory, state, last):
                    try:
                        member = client.member_user_id(slug, link.memory.assignee or "")
                    except ApiError as exc:
                        report.errors.append(f"{_name(link)}: reading the member failed: {exc}")
                        continue
                is_marked = link.row_key in marked
                decided = plan(
                    link.memory, is_marked, state, last, directions, member, only_link
                )
                plans.append((link, decided))
        for link, decided in plans:
            if decided.acts:
                report.differences.append(Difference(link, decided))
        if not dry_run:
            self._carry(integration, plans)
            report.impact_writes = update_impact(
                self._storage, integration, read_issues, report.errors
            )
        if report.wait is not None:
            report.next_after = after
        log_event(
            "sweep.chunk",
            integration=integration.id,
            checked=report.checked,
            sentry_reads=report.sentry_reads,
            differences=len(report.differences),
            impact_writes=report.impact_writes,
            errors=len(report.errors),
            dry_run=dry_run,
        )
        return report

    def _read(
        self, org: SentryOrg, links: list[Link], report: SweepReport
    ) -> tuple[dict[str, SentryIssue], set[str]]:
        """The organization's linked issues the plans need, 100 a call: those Sentry returned,
        and the ids asked for (an id asked for and not returned is gone from Sentry)."""
        # Unfinished writes are read too (rarely more than a few): the read says whether the
        # organization answers before their settle is queued.
        wanted = sorted({link.issue_id for link in links}, key=int)
        client = sentry_client(org)
        found: dict[str, SentryIssue] = {}
        asked: set[str] = set()
        for start in range(0, len(wanted), MAX_ISSUES_PER_READ):
            batch = wanted[start : start + MAX_ISSUES_PER_READ]
            try:
                issues, limit = client.issues_by_id(org.slug, batch)
            except (ApiError, ConfigurationError) as exc:
                report.errors.append(f"{org.slug}: reading {len(batch)} issues failed: {exc}")
                continue
            report.sentry_reads += 1
            asked.update(batch)
            found.update((issue.id, issue) for issue in issues)
            more = start + MAX_ISSUES_PER_READ < len(wanted)
            if more and limit.remaining is not None and limit.remaining < RATE_FLOOR:
                report.wait = limit.reset_in if limit.reset_in is not None else 60.0
                break
        return found, asked

    # -- carrying what was found --------------------------------------------------------------

    def _carry(self, integration: Integration, plans: list[tuple[Link, Plan]]) -> None:
        settled: dict[int, int] = {}
        carried: set[tuple[str, str, str]] = set()
        seen: dict[Link, str] = {}
        for link, decided in plans:
            if decided.fix_sentry:
                self._memory.mark_repair(link, decided.fix_sentry)
            if decided.settle or decided.fix_sentry:
                rev = max(link.state_rev, link.assignee_rev)
                settled[link.work_item_id] = max(settled.get(link.work_item_id, 0), rev)
                self._record(
                    integration, link, "correction-queued",
                    f"Sentry differs from the link's memory: {decided.why}", rev,
                )  # fmt: skip
            for field_name in sorted(decided.to_devops):
                action = _event_action(field_name, decided.swept)
                key = (link.sentry_org, link.issue_id, action)
                if key not in carried:
                    carried.add(key)
                    message = SentryEventMessage(
                        integration_id=integration.id,
                        org=link.sentry_org,
                        resource="issue",
                        action=action,
                        installation_uuid=SWEEP,
                        issue=IssueData(issue=Issue(id=link.issue_id)),
                    )
                    self._storage.send_sentry_event(message.encode())
            if decided.to_devops:
                self._record(
                    integration, link, "sync-queued",
                    f"Sentry moved without its webhook reaching us: {decided.why}", 0,
                )  # fmt: skip
            if decided.unlink:
                try:
                    Links(self._storage).remove(
                        integration.id, link.work_item_id, link.sentry_org, link.issue_id
                    )
                except NotFound:
                    continue  # removed meanwhile
                self._record(
                    integration, link, "unlinked",
                    "removed in Sentry's sidebar (Sentry sends no webhook for it): link removed",
                    0,
                )  # fmt: skip
                continue
            if decided.why and not decided.acts:
                # Seen once (what the sweep saw is remembered): a regression left alone.
                self._record(integration, link, "none", f"Sentry: {decided.why}", 0)
            if decided.swept is not None:
                seen[link] = decided.swept
        for work_item_id, rev in settled.items():
            self._storage.send(
                SyncMessage(
                    integration_id=integration.id, work_item_id=work_item_id, rev=rev
                ).encode()
            )
        noted: set[tuple[str, str]] = set()
        for link, decided in plans:
            if decided.notes and (link.sentry_org, link.issue_id) not in noted:
                noted.add((link.sentry_org, link.issue_id))
                if not self._carry_notes(integration, link):
                    seen.pop(link, None)  # not remembered: the next sweep looks again
        if seen:
            self._memory.mark_swept(integration.id, seen)

    def _carry_notes(self, integration: Integration, link: Link) -> bool:
        """The issue's note count changed: notes created or deleted without their webhook
        reaching us are queued as those webhooks (SentryEvents claims each note by id, so a
        note is carried once whoever sees it). One Sentry read and one range read."""
        org = integration.sentry_org(link.sentry_org)
        assert org is not None
        try:
            listed, complete = sentry_client(org).notes(org.slug, link.issue_id)
        except ApiError as exc:
            log_event("sweep.notes_unreadable", logging.WARNING, error=type(exc).__name__)
            return False
        known = Comments(self._storage).of_issue(integration.id, org.slug, link.issue_id)
        by_id = {note.id: note for note in listed}
        created, deleted = notes_to_carry([note.id for note in listed], known, complete)
        actions = [(n, "created") for n in created] + [(n, "deleted") for n in deleted]
        for note_id, action in actions:
            note = by_id.get(note_id)
            text = note.data.text if note is not None else ""
            user = note.user if note is not None else None
            message = SentryEventMessage(
                integration_id=integration.id,
                org=org.slug,
                resource="comment",
                action=action,
                installation_uuid=SWEEP,
                actor=Actor(type="user", id=user.id, name=user.name) if user else None,
                comment=CommentData(
                    comment_id=note_id,
                    issue_id=link.issue_id,
                    comment=text[:MAX_COMMENT_CHARACTERS],
                ),
                comment_truncated=len(text) > MAX_COMMENT_CHARACTERS,
            )
            self._storage.send_sentry_event(message.encode())
        if created or deleted:
            self._record(
                integration, link, "sync-queued",
                f"notes whose webhooks were lost: {len(created)} created, "
                f"{len(deleted)} deleted",
                0,
            )  # fmt: skip
        return True

    def _record(
        self, integration: Integration, link: Link, action: str, reason: str, rev: int
    ) -> None:
        self._audit.record(
            integration.id,
            AuditEntry(
                kind=KIND_SWEEP,
                work_item_id=link.work_item_id,
                rev=rev,
                outcome=SKIPPED,
                action=action,
                reason=reason,
                sentry_org=link.sentry_org,
                issue_id=link.issue_id,
            ),
        )

def _event_action(field_name: str, swept: str | None) -> str:
    """The webhook action a carried field stands for (SentryEvents reads the issue anyway)."""
    if field_name == ASSIGNEE:
        return "assigned"
    status = (swept or "unresolved").split("|", 1)[0]
    return status if field_name == STATUS and status in ("resolved", "unresolved") else "unresolved"


def _name(link: Link) -> str:
    return f"work item {link.work_item_id}, {link.sentry_org} issue {link.issue_id}"
