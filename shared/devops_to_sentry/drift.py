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
to bring the work item's links to their memory, nothing more. Every correction is an audit row.
A dry run reads the same and writes nothing.
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
from shared.store.audit import SKIPPED, AuditEntry, AuditLog
from shared.store.integrations import Integrations
from shared.store.link_memory import LinkMemoryStore
from shared.store.records import ASSIGNEE, STATUS, Integration, Link
from shared.store.storage import Storage

RECENT = timedelta(hours=6)
LIMIT = 100


@dataclass(frozen=True)
class Difference:
    link: Link
    fields: frozenset[str]
    why: str

    def to_public(self) -> dict[str, Any]:
        return {
            "workItemId": self.link.work_item_id,
            "sentryOrg": self.link.sentry_org,
            "issueId": self.link.issue_id,
            "fields": sorted(self.fields),
            "why": self.why,
        }


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
        if memory.status.target is None and memory.assignee is None:
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
        if not fields:
            return None
        return Difference(link, frozenset(fields), "; ".join(why))

    def _correct(self, integration: Integration, difference: Difference) -> None:
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
