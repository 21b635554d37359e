"""SyncStatus: apply one work-item change (a sync queue message) to every linked Sentry issue.

Delivery is at-least-once and unordered, and several runs work on one link at once. Each link
(work item <-> Sentry issue) keeps a memory (``rules.LinkMemory``): the revisions applied, the
status and assignee Sentry should have, and which of them Sentry may not show yet. Per link
and message, one round is:

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
repeats the others; the message is retried for the failed links only.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import ValidationError

import shared.http
from shared import link_memory
from shared.audit import APPLIED, FAILED, POISONED, SKIPPED, AuditEntry, AuditLog
from shared.clients import BACKGROUND, azure_devops_client, sentry_client
from shared.done_states import DoneStates
from shared.errors import (
    ConfigurationError,
    IntegrationNotFound,
    IntegrationRemoved,
    StorageUnavailable,
    SyncError,
)
from shared.http import ApiError, ApiNotFound, ApiRejected
from shared.link_memory import LinkChanged, LinkMemoryStore, RepairMark
from shared.log import log_event
from shared.messages import SyncMessage
from shared.payloads import FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE, normalize_guid
from shared.registry import INTEGRATION_MAX_AGE, Integration, Link, Registry
from shared.rules import (
    ASSIGNEE,
    NOTHING_TO_DO,
    AssigneeChange,
    LinkPlan,
    SentryWrite,
    StateSet,
    plan_link,
    settle_write,
)
from shared.sentry import SentryClient
from shared.settings import max_dequeue_count
from shared.storage import Storage, get_storage

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
UNREADABLE_PARTITION = "unreadable"


class RetryLater(SyncError):
    """Some of the message's work failed in a way a later attempt may fix."""


class LinkBusy(SyncError):
    """Another run holds this link's lease right now."""


class Overtaken(SyncError):
    """This run wrote to Sentry, then found that another run had taken the link over."""


@dataclass
class _Claim:
    etag: str
    until: datetime


def handle_queue_message(text: str, dequeue_count: int, storage: Storage | None = None) -> None:
    """Process one sync queue message. Raises ``RetryLater`` to have the queue try again.

    Every way a message can end in the poison queue passes through here or ``Syncer._fail``,
    and each writes an audit row (unless storage itself is down, when only the log says it).
    """
    storage = storage or get_storage()
    try:
        message = SyncMessage.decode(text)
    except ValidationError as exc:
        _park_unreadable(storage, text, exc)
        return
    syncer = Syncer(storage)
    try:
        syncer.apply(message, dequeue_count)
    except RetryLater:
        raise
    except Exception as exc:  # unexpected: retried, then poisoned with a record
        log_event("sync.unexpected_error", logging.ERROR, error=type(exc).__name__)
        logging.getLogger(__name__).debug("unexpected sync failure", exc_info=True)
        syncer.fail(message, dequeue_count, [exc])


def _park_unreadable(storage: Storage, text: str, exc: ValidationError) -> None:
    """No later attempt can read it either: straight to poison, where people can see it."""
    reason = describe_invalid(exc)
    log_event("sync.unreadable_message", logging.ERROR, error=reason)
    storage.send_poison(text)
    AuditLog(storage).record(
        _integration_of(text) or UNREADABLE_PARTITION,
        AuditEntry(
            work_item_id=0,
            rev=0,
            outcome=POISONED,
            action="none",
            reason=f"unreadable sync message: {reason}",
            error="ValidationError",
        ),
    )


def describe_invalid(exc: ValidationError) -> str:
    """Which field is wrong and how, without echoing the value."""
    error = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in error["loc"]) or "message"
    if error["type"] == "missing":
        return f"{where} is missing"
    if error["type"] == "json_invalid":
        return "the message is not JSON"
    return f"{where}: {str(error.get('msg', 'is invalid'))[:120]}"


def _integration_of(text: str) -> str | None:
    """The integration an unreadable message names, if it names a valid one."""
    try:
        value = json.loads(text).get("integrationId")
        return normalize_guid(value) if isinstance(value, str) else None
    except (ValueError, AttributeError):
        return None


class Syncer:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._registry = Registry(storage)
        self._memory = LinkMemoryStore(storage)
        self._audit = AuditLog(storage)
        self._states: StateSet | None = None

    def apply(self, message: SyncMessage, dequeue_count: int) -> None:
        try:
            integration = self._registry.get_integration(
                message.integration_id, with_orgs=True, max_age=INTEGRATION_MAX_AGE
            )
        except (IntegrationNotFound, IntegrationRemoved) as exc:
            log_event("sync.no_integration", logging.WARNING, integration=message.integration_id)
            self._record(message, SKIPPED, "none", str(exc))
            return
        links, marks = self._memory.read(integration.id, message.work_item_id)
        if not links:
            self._record(message, SKIPPED, "none", "work item is not linked to a Sentry issue")
            return
        if message.state is not None and any(link.state_rev != message.rev for link in links):
            try:
                self._states = self._done_states(integration, message)
            except (ApiError, ConfigurationError) as exc:
                self._record(
                    message, FAILED, "none", f"could not read the done-states: {exc}", error=exc
                )
                self.fail(message, dequeue_count, [exc])
                return

        failures: list[Exception] = []
        for link in links:
            mark = next((m for m in marks if m.link_row == link.row_key), None)
            try:
                self._settle_link(integration, message, link, mark, dequeue_count)
            except (ApiError, ConfigurationError, StorageUnavailable, LinkBusy, LinkChanged) as exc:
                failures.append(exc)
                self._record(
                    message,
                    FAILED,
                    "none",
                    f"not applied: {exc}",
                    link=link,
                    error=exc,
                    attempt=dequeue_count,
                )
        if failures:
            self.fail(message, dequeue_count, failures)

    # -- per link -------------------------------------------------------------------------------

    def _settle_link(
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
        state = None
        if message.state is not None and message.rev != link.state_rev:
            if self._states is None:  # the link moved on since the first read
                self._states = self._done_states(integration, message)
            state = (message.state.old, message.state.new)
        assignee = None
        if message.assignee is not None:
            new = message.assignee.new
            assignee = AssigneeChange(email=new.email if new else None, cleared=new is None)
        plan = plan_link(
            link.memory,
            message.rev,
            state=state,
            states=self._states,
            assignee=assignee,
            repair=mark.fields if mark else frozenset(),
        )
        if message.state is not None and state is None:
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
            return SKIPPED, SentryWrite({}, (), ("Sentry issue not found",)), None
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

    # -- helpers ------------------------------------------------------------------------------

    def _done_states(self, integration: Integration, message: SyncMessage) -> StateSet:
        project, work_item_type = message.project_name, message.work_item_type
        client = None
        if work_item_type is None or (message.project_id is None and project is None):
            client = azure_devops_client(integration)
            fields = client.work_item_fields(
                message.work_item_id, [FIELD_WORK_ITEM_TYPE, FIELD_TEAM_PROJECT]
            )
            work_item_type = str(fields.get(FIELD_WORK_ITEM_TYPE) or "") or None
            project = project or (str(fields.get(FIELD_TEAM_PROJECT) or "") or None)
            if work_item_type is None or (project is None and message.project_id is None):
                raise ApiRejected("azure-devops", "the work item has no type or project")
        return DoneStates(self._storage).for_item(
            integration,
            lambda project_key, kind: azure_devops_client(integration).work_item_type_states(
                project_key, kind
            ),
            project=project,
            project_id=message.project_id,
            work_item_type=work_item_type,
        )

    def fail(self, message: SyncMessage, dequeue_count: int, errors: list[Exception]) -> None:
        summary = "; ".join(sorted({f"{type(e).__name__}: {e}" for e in errors}))[:500]
        if dequeue_count >= max_dequeue_count():
            # Last attempt: park it in the poison queue ourselves, with an audit row, so the
            # trail says why; `poison replay` brings it back once the cause is fixed.
            self._storage.send_poison(message.encode())
            self._record(
                message,
                POISONED,
                "none",
                f"gave up after {dequeue_count} attempts",
                error=errors[0],
            )
            log_event(
                "sync.poisoned",
                logging.ERROR,
                work_item=message.work_item_id,
                rev=message.rev,
                errors=summary,
            )
            return
        log_event(
            "sync.retry_later",
            logging.WARNING,
            work_item=message.work_item_id,
            rev=message.rev,
            attempt=dequeue_count,
            errors=summary,
        )
        raise RetryLater(summary)

    def _record(
        self,
        message: SyncMessage,
        outcome: str,
        action: str,
        reason: str,
        *,
        link: Link | None = None,
        error: Exception | None = None,
        attempt: int | None = None,
    ) -> None:
        self._audit.record(
            message.integration_id,
            AuditEntry(
                work_item_id=message.work_item_id,
                rev=message.rev,
                outcome=outcome,
                action=action,
                reason=reason,
                sentry_org=link.sentry_org if link else None,
                issue_id=link.issue_id if link else None,
                error=type(error).__name__ if error else None,
                attempt=attempt,
            ),
        )
