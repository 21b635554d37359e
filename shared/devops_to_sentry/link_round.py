"""One link, one message: the read-decide-claim-write-finish round of SyncStatus.

Delivery is at-least-once and unordered, and several runs work on one link at once. Each link
(work item <-> Sentry issue) keeps a memory (``store.records.LinkMemory``): the revisions
applied, the status and assignee Sentry should have, and which of them Sentry may not show
yet. Per link and message, one round is:

1. read the link; if another run's lease is live, wait a little and read again;
2. decide, purely, from that memory and the message (``rules.plan_link``);
3. nothing for Sentry: store the new memory, conditional on the ETag read in 1 (the lease was
   free then, so no run holding it is overwritten); done;
4. else claim: one ETag-conditional write of the lease *and* the new memory with the fields to
   settle as ``Pending`` (write-ahead), so the decision and its claim are one commit;
5. under the claim, read the issue and write what differs from the memory's wish;
6. finish: clear ``Pending`` and the lease, conditional on the claim's ETag.

A failed condition in 3, 4 or 6 means another run got there first: read again and decide
anew from what it left. So no write to Sentry comes from a decision a newer recorded revision
has overtaken. A failure in 5 (an error, a timeout that may have reached Sentry) releases the
lease but keeps ``Pending``: the next run on the link (the retry, or any other) settles it. A
run that finds in 6 that it was overtaken after writing (its lease ran out) marks the fields
for repair and settles them again against the newest memory.

Each link succeeds or fails alone: a failure in one Sentry organization neither blocks nor
repeats the others; the message is retried for the failed links only (``sync``).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import shared.http
from shared.clients import BACKGROUND, sentry_client
from shared.devops_to_sentry.rules import (
    NOTHING_TO_DO,
    AssigneeChange,
    LinkPlan,
    SentryWrite,
    StateSet,
    plan_link,
    settle_write,
)
from shared.errors import ConfigurationError, SyncError
from shared.http import ApiNotFound, ApiRejected
from shared.log import log_event
from shared.messages.sync import SyncMessage
from shared.notices.failures import SENTRY_GONE, SENTRY_REFUSED
from shared.sentry.client import SentryClient
from shared.store import link_memory
from shared.store.audit import APPLIED, FAILED, SKIPPED
from shared.store.link_memory import LinkChanged, LinkMemoryStore, RepairMark
from shared.store.records import ASSIGNEE, Integration, Link

LEASE_SECONDS = 120
BUSY_PATIENCE_SECONDS = 10.0
# A Sentry write starts only with this much of the lease left (renewed otherwise): one call's
# whole retry budget and timeouts, and some slack. So a run cannot write after its lease ran
# out and another run took the link over, short of a process frozen for over a minute; and if
# that happens, ``finish`` fails and the run puts Sentry back (see ``Overtaken``).
WRITE_MARGIN_SECONDS = (
    BACKGROUND.budget_seconds + BACKGROUND.connect_timeout + BACKGROUND.read_timeout + 10.0
)
MAX_ROUNDS = 12
ISSUE_GONE = "Sentry issue not found"


class LinkBusy(SyncError):
    """Another run holds this link's lease right now."""


class Overtaken(SyncError):
    """This run wrote to Sentry, then found that another run had taken the link over."""


@dataclass
class _Claim:
    etag: str
    until: datetime


class Recorder(Protocol):
    """Writes the audit row of one decision (``Syncer.record``)."""

    def __call__(
        self,
        message: SyncMessage,
        outcome: str,
        action: str,
        reason: str,
        *,
        link: Link | None = None,
        error: Exception | None = None,
        attempt: int | None = None,
    ) -> None: ...


class Notifier(Protocol):
    """Says a refusal for good where the change was made (``notices.failures``)."""

    def __call__(
        self, integration: Integration, message: SyncMessage, link: Link, kind: str, said: str
    ) -> None: ...


class LinkRounds:
    def __init__(
        self,
        memory: LinkMemoryStore,
        record: Recorder,
        states: Callable[[Integration, SyncMessage], StateSet],
        echo: Callable[[Integration, SyncMessage], bool] = lambda integration, message: False,
        notify: Notifier | None = None,
    ) -> None:
        self._memory = memory
        self._record = record
        self._states = states
        self._echo = echo
        self._notify = notify

    def settle(
        self,
        integration: Integration,
        message: SyncMessage,
        link: Link,
        mark: RepairMark | None,
        attempt: int,
    ) -> None:
        """Apply the message to one link, reading it again whenever another run got there first.

        Revisions of one work item often arrive together; while another run holds the link,
        this one waits a little (instead of spending the message's few queue attempts) and
        then decides again from the memory that run left.
        """
        waited, delay = 0.0, 0.1
        for _ in range(MAX_ROUNDS):
            try:
                self._link_round(integration, message, link, mark, attempt)
                return
            except LinkBusy:
                if waited + delay > BUSY_PATIENCE_SECONDS:
                    raise
                shared.http.pause(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
                waited, delay = waited + delay, min(delay * 2, 2.0)
            except (LinkChanged, Overtaken):
                pass  # decide again, at once, from what is stored now
            links, marks = self._memory.read(integration.id, message.work_item_id)
            fresh = next((row for row in links if row.row_key == link.row_key), None)
            if fresh is None:
                self._record(message, SKIPPED, "none", "the link was removed", link=link)
                return
            link = fresh
            mark = next((m for m in marks if m.link_row == link.row_key), None)
        raise LinkBusy(f"link {link.row_key} kept changing; retrying later")

    def _plan(
        self, integration: Integration, message: SyncMessage, link: Link, mark: RepairMark | None
    ) -> LinkPlan:
        sync = integration.sync
        moved = message.state is not None and sync.status_to_sentry
        state, states = None, None
        if moved and message.rev != link.state_rev:
            assert message.state is not None
            states = self._states(integration, message)
            state = (message.state.old, message.state.new)
        assignee = None
        if message.assignee is not None and sync.assignee_to_sentry:
            new = message.assignee.new
            assignee = AssigneeChange(email=new.email if new else None, cleared=new is None)
        plan = plan_link(
            link.memory,
            message.rev,
            state=state,
            states=states,
            assignee=assignee,
            repair=mark.fields if mark else frozenset(),
            echo=self._echo(integration, message),
        )
        if moved and state is None:
            reason = "revision already applied"
            if plan.reason != NOTHING_TO_DO:
                reason = f"{reason}; {plan.reason}"
            plan = LinkPlan(plan.memory, plan.settle, reason)
        return plan

    def _link_round(
        self,
        integration: Integration,
        message: SyncMessage,
        link: Link,
        mark: RepairMark | None,
        attempt: int,
    ) -> None:
        """One read-decide-claim-write-finish round on one link (``link`` as just read)."""
        if link.leased(link_memory.now()):
            raise LinkBusy(f"link {link.row_key} is being applied by another run")
        plan = self._plan(integration, message, link, mark)
        if not plan.settle:
            # Nothing for Sentry: remember the revision (if it taught us anything), no API call.
            if plan.memory != link.memory:
                self._memory.record(link, plan.memory)
            if mark is not None:
                self._memory.clear_repair(integration.id, mark)
            self._record(message, SKIPPED, "none", plan.reason, link=link)
            return

        org = integration.sentry_org(link.sentry_org)
        if org is None:
            raise ConfigurationError(f"Sentry organization {link.sentry_org} is not configured")
        client = sentry_client(org)
        until = link_memory.now() + timedelta(seconds=LEASE_SECONDS)
        claim = _Claim(self._memory.claim(link, plan.memory, LEASE_SECONDS), until)
        try:
            outcome, write, error = self._write_sentry(integration, client, link, plan, claim)
        except BaseException:
            self._release(link, claim)
            raise
        reason = f"{plan.reason}: {'; '.join(write.reasons)}" if write.reasons else plan.reason
        action = "+".join(write.actions) or "none"
        try:
            self._memory.finish(link, claim.etag)
        except LinkChanged:
            if not write.changes:
                raise  # nothing was sent; whoever took over settles what is pending
            # Sent, but another run took the link over meanwhile: this write may have landed
            # after that run's and undone it. Mark the fields (durably), then settle them again.
            self._memory.mark_repair(link, frozenset(write.fields))
            self._record(
                message,
                outcome,
                action,
                f"{reason}; overtaken by another run after this write, so Sentry is checked again",
                link=link,
                error=error,
                attempt=attempt,
            )
            raise Overtaken(f"link {link.row_key} was taken over during the write") from None
        if mark is not None:
            self._memory.clear_repair(integration.id, mark)
        self._record(message, outcome, action, reason, link=link, error=error, attempt=attempt)
        if self._notify is not None:
            if write.reasons == (ISSUE_GONE,):
                self._notify(integration, message, link, SENTRY_GONE, ISSUE_GONE)
            elif outcome == FAILED and error is not None:
                said = getattr(error, "remote_message", None) or str(error)
                self._notify(integration, message, link, SENTRY_REFUSED, said)
        log_event(
            "sync.link_done",
            integration=integration.id,
            work_item=message.work_item_id,
            rev=message.rev,
            sentry_org=link.sentry_org,
            issue=link.issue_id,
            outcome=outcome,
            action=action,
        )

    def _write_sentry(
        self,
        integration: Integration,
        client: SentryClient,
        link: Link,
        plan: LinkPlan,
        claim: _Claim,
    ) -> tuple[str, SentryWrite, Exception | None]:
        """Bring the issue to the plan's memory, under the claim."""
        org = link.sentry_org
        try:
            issue = client.get_issue(org, link.issue_id)
        except ApiNotFound:
            return SKIPPED, SentryWrite({}, (), (ISSUE_GONE,)), None
        member = None
        if ASSIGNEE in plan.settle and plan.memory.assignee:
            member = client.member_user_id(org, plan.memory.assignee)
        write = settle_write(
            plan.memory,
            plan.settle,
            issue_status=issue.status,
            assigned=issue.is_assigned,
            assignee_user_id=issue.assignee_user_id,
            member_user_id=member,
            resolution=integration.resolution,
        )
        if not write.changes:
            return SKIPPED, write, None
        left = (claim.until - link_memory.now()).total_seconds()
        if left < WRITE_MARGIN_SECONDS:
            claim.etag, claim.until = self._memory.renew(link, claim.etag, LEASE_SECONDS)
        try:
            client.update_issue(org, link.issue_id, write.changes)
        except ApiRejected as exc:
            # A permanent refusal (e.g. the member cannot be assigned in that project):
            # recorded, not retried.
            return FAILED, write, exc
        return APPLIED, write, None

    def _release(self, link: Link, claim: _Claim) -> None:
        """Give the lease back after a failure; ``Pending`` stays for the next run."""
        try:
            self._memory.release(link, claim.etag)
        except SyncError as exc:
            # The lease runs out by itself; retries wait for it at worst.
            log_event("sync.release_failed", logging.WARNING, error=type(exc).__name__)
