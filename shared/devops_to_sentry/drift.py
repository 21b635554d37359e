"""The safety net: compare linked Sentry issues with what their links' memory says they should
be, and queue the correction.

Sentry can drift from the memory when a write was lost (a run died between its Sentry call and
its finish, a process froze past its lease) or when someone changed the issue by hand. For
the links touched in the last ``RECENT`` (newest first, at most ``LIMIT`` a run):

* a link with ``Pending`` fields or a repair mark is not looked at in Sentry: a settle
  message is queued, and SyncStatus completes it under a claim;
* otherwise the issue is read; where its status (or assignee) differs from the memory's wish,
  the field is marked for repair and a settle message is queued. Issues that are ignored,
  archived or otherwise left alone by the rules count as no difference.

A settle message is a sync message with neither ``state`` nor ``assignee``: it asks SyncStatus
to bring the work item's links to their memory, nothing more.

With the Sentry -> Azure DevOps direction on for a field, a difference on a clean memory means
Sentry moved last and its webhook never reached us (Sentry sends each once, without retries):
instead of undoing it, a Sentry event is queued as if the webhook had arrived, and SentryEvents
moves the work item. Every correction is an audit row. A dry run reads the same and writes
nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clients import sentry_client
from shared.devops_to_sentry.message import SyncMessage
from shared.devops_to_sentry.rules import LEFT_ALONE
from shared.errors import ConfigurationError
from shared.http import ApiError, ApiNotFound
from shared.log import log_event
from shared.sentry.webhooks import Issue, IssueData
from shared.sentry_intake.message import SentryEventMessage
from shared.store.audit import SKIPPED, AuditEntry, AuditLog
from shared.store.integrations import Integrations
from shared.store.link_memory import LinkMemoryStore
from shared.store.records import ASSIGNEE, STATUS, Integration, Link
from shared.store.storage import Storage

RECENT = timedelta(hours=6)
LIMIT = 100


@dataclass(frozen=True)
class Difference:
    """``fields``: to correct in Sentry; ``to_devops``: fields where Sentry moved last (the
    other direction is on), carried to the work item instead; ``status``: Sentry's status."""

    link: Link
    fields: frozenset[str]
    why: str
    to_devops: frozenset[str] = frozenset()
    status: str | None = None

    def to_public(self) -> dict[str, Any]:
        shown = {
            "workItemId": self.link.work_item_id,
            "sentryOrg": self.link.sentry_org,
            "issueId": self.link.issue_id,
            "fields": sorted(self.fields),
            "why": self.why,
        }
        if self.to_devops:
            shown["toAzureDevOps"] = sorted(self.to_devops)
        return shown


@dataclass
class DriftReport:
    checked: int = 0
    differences: list[Difference] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class DriftCheck:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._integrations = Integrations(storage)
        self._memory = LinkMemoryStore(storage)
        self._audit = AuditLog(storage)

    def run(self, integration_id: str, *, dry_run: bool = False) -> DriftReport:
        integration = self._integrations.get(integration_id, with_orgs=True)
        now = datetime.now(UTC)
        links, marked = self._memory.recent(integration.id, now - RECENT)
        report = DriftReport()
        for link in links[:LIMIT]:
            if link.leased(now):
                continue  # a run is on it right now
            org = integration.sentry_org(link.sentry_org)
            if org is not None and org.uninstalled:
                continue  # nothing is synced into it
            report.checked += 1
            try:
                difference = self._compare(integration, link, marked)
            except (ApiError, ConfigurationError) as exc:
                report.errors.append(
                    f"work item {link.work_item_id}, {link.sentry_org} issue {link.issue_id}: "
                    f"reading the Sentry issue failed: {exc}"
                )
                continue
            if difference is None:
                continue
            report.differences.append(difference)
            if not dry_run:
                self._correct(integration, difference)
        log_event(
            "drift.checked",
            integration=integration.id,
            checked=report.checked,
            differences=len(report.differences),
            errors=len(report.errors),
            dry_run=dry_run,
        )
        return report

    def _compare(
        self, integration: Integration, link: Link, marked: set[str]
    ) -> Difference | None:
        if link.pending or link.row_key in marked:
            fields = link.pending or frozenset({STATUS, ASSIGNEE})
            return Difference(link, frozenset(fields), "a write was left unfinished")
        memory = link.memory
        sync = integration.sync
        two_way = sync.status_to_devops or sync.assignee_to_devops
        if memory.status.target is None and memory.assignee is None and not two_way:
            return None  # nothing asked of Sentry yet
        org = integration.sentry_org(link.sentry_org)
        if org is None:
            raise ConfigurationError(f"Sentry organization {link.sentry_org} is not configured")
        client = sentry_client(org)
        try:
            issue = client.get_issue(org.slug, link.issue_id)
        except ApiNotFound:
            return None  # deleted in Sentry: nothing to correct
        fields: set[str] = set()
        why: list[str] = []
        target = memory.status.target
        if target is not None and issue.status not in LEFT_ALONE:
            wanted = "resolved" if target else "unresolved"
            if issue.status != wanted:
                fields.add(STATUS)
                why.append(
                    f"Sentry says {issue.status}, revision {memory.status.cross_rev} says {wanted}"
                )
        if memory.assignee == "" and issue.is_assigned:
            fields.add(ASSIGNEE)
            why.append("Sentry has an assignee, the work item has none")
        elif memory.assignee:
            member = client.member_user_id(org.slug, memory.assignee)
            if member is not None and issue.assignee_user_id != member:
                fields.add(ASSIGNEE)
                why.append(f"Sentry's assignee is not {memory.assignee}")
        # With the other direction on, a clean memory that Sentry differs from means Sentry
        # moved last (our own writes leave Pending or a repair mark until they are settled):
        # the change is carried to the work item instead of being undone in Sentry.
        to_devops: set[str] = set()
        if sync.status_to_devops and issue.status not in LEFT_ALONE:
            if STATUS in fields or (target is None and issue.status == "resolved"):
                fields.discard(STATUS)
                to_devops.add(STATUS)
                if target is None:
                    why.append(f"Sentry says {issue.status}, the work item never moved")
        if sync.assignee_to_devops and ASSIGNEE in fields:
            fields.discard(ASSIGNEE)
            to_devops.add(ASSIGNEE)
        if not fields and not to_devops:
            return None
        return Difference(
            link, frozenset(fields), "; ".join(why), frozenset(to_devops), issue.status
        )

    def _correct(self, integration: Integration, difference: Difference) -> None:
        if difference.to_devops:
            self._queue_to_devops(integration, difference)
        if difference.fields:
            self._correct_sentry(integration, difference)

    def _queue_to_devops(self, integration: Integration, difference: Difference) -> None:
        """A Sentry event as if its webhook had arrived: SentryEvents reads both sides again
        and decides (an echo, or a work item already there, changes nothing)."""
        link = difference.link
        for field_name in sorted(difference.to_devops):
            action = (difference.status or "unresolved") if field_name == STATUS else "assigned"
            message = SentryEventMessage(
                integration_id=integration.id,
                org=link.sentry_org,
                resource="issue",
                action=action,
                installation_uuid="drift-check",
                issue=IssueData(issue=Issue(id=link.issue_id)),
            )
            self._storage.send_sentry_event(message.encode())
        self._audit.record(
            integration.id,
            AuditEntry(
                work_item_id=link.work_item_id,
                rev=0,
                outcome=SKIPPED,
                action="sync-queued",
                reason=f"Sentry moved without its webhook reaching us: {difference.why}",
                sentry_org=link.sentry_org,
                issue_id=link.issue_id,
            ),
        )

    def _correct_sentry(self, integration: Integration, difference: Difference) -> None:
        link = difference.link
        self._memory.mark_repair(link, difference.fields)
        rev = max(link.state_rev, link.assignee_rev)
        self._storage.send(
            SyncMessage(
                integration_id=integration.id, work_item_id=link.work_item_id, rev=rev
            ).encode()
        )
        self._audit.record(
            integration.id,
            AuditEntry(
                work_item_id=link.work_item_id,
                rev=rev,
                outcome=SKIPPED,
                action="correction-queued",
                reason=f"Sentry differs from the link's memory: {difference.why}",
                sentry_org=link.sentry_org,
                issue_id=link.issue_id,
            ),
        )
        log_event(
            "drift.correction_queued",
            logging.WARNING,
            integration=integration.id,
            work_item=link.work_item_id,
            sentry_org=link.sentry_org,
            issue=link.issue_id,
            fields=sorted(difference.fields),
        )
