"""SyncStatus: apply one work-item change (a sync queue message) to every linked Sentry issue.

Delivery is at-least-once and unordered, so each link (work item <-> Sentry issue) keeps
watermarks: the last revision whose state and whose assignee were applied, and the state it
left. A message older than a watermark changes nothing for that field; the status rule compares
the new state with the state last applied (not with the message's own old state), so any order
of revisions ends where the newest one points.

A link is claimed before Sentry is written: an ETag-conditional write of a short lease. Two
instances holding the same change cannot both apply it; the loser retries later and finds
the watermark moved. Each link succeeds or fails alone: a failure in one Sentry organization
neither blocks nor repeats the others; the message is retried for the failed links only.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from pydantic import ValidationError

import shared.http
from shared.audit import APPLIED, FAILED, POISONED, SKIPPED, AuditEntry, AuditLog
from shared.clients import azure_devops_client, sentry_client
from shared.done_states import DoneStates
from shared.errors import (
    ConfigurationError,
    IntegrationNotFound,
    IntegrationRemoved,
    StorageUnavailable,
    SyncError,
)
from shared.http import ApiError, ApiNotFound, ApiRejected
from shared.log import log_event
from shared.messages import SyncMessage
from shared.payloads import FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE
from shared.registry import INTEGRATION_MAX_AGE, Integration, Link, Registry
from shared.rules import (
    StateSet,
    StatusAction,
    StatusMemory,
    assignee_change,
    status_change,
    status_step,
)
from shared.settings import max_dequeue_count
from shared.storage import LINKS, Storage, get_storage, storage_errors

LEASE_SECONDS = 120
BUSY_PATIENCE_SECONDS = 10.0


class RetryLater(SyncError):
    """Some of the message's work failed in a way a later attempt may fix."""


class LinkBusy(SyncError):
    """Another instance is applying a change to this link right now."""


@dataclass(frozen=True)
class _Work:
    """What one message asks of one link."""

    link: Link
    state_due: bool
    assignee_due: bool


def _work(message: SyncMessage, link: Link, *, states_needed: bool = True) -> _Work:
    """What ``message`` still asks of ``link``. Older revisions still count for the status
    (see ``rules.status_step``); only a newer one replaces the assignee."""
    return _Work(
        link,
        state_due=states_needed and message.state is not None and message.rev != link.state_rev,
        assignee_due=message.assignee is not None and message.rev > link.assignee_rev,
    )


def _memory(link: Link) -> StatusMemory:
    return StatusMemory(
        rev=link.state_rev,
        state=link.last_state,
        cross_rev=link.cross_rev,
        cross_done=link.cross_done,
    )


def handle_queue_message(text: str, dequeue_count: int, storage: Storage | None = None) -> None:
    """Process one sync queue message. Raises ``RetryLater`` to have the queue try again."""
    storage = storage or get_storage()
    try:
        message = SyncMessage.decode(text)
    except ValidationError as exc:
        # No later attempt can read it either: straight to poison, where people can see it.
        log_event("sync.unreadable_message", logging.ERROR, error=exc.errors()[0]["type"])
        with storage_errors():
            storage.poison_queue.send_message(text)
        return
    Syncer(storage).apply(message, dequeue_count)


class Syncer:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._registry = Registry(storage)
        self._audit = AuditLog(storage)

    def apply(self, message: SyncMessage, dequeue_count: int) -> None:
        try:
            integration = self._registry.get_integration(
                message.integration_id, with_orgs=True, max_age=INTEGRATION_MAX_AGE
            )
        except (IntegrationNotFound, IntegrationRemoved) as exc:
            log_event("sync.no_integration", logging.WARNING, integration=message.integration_id)
            self._record(message, SKIPPED, "none", str(exc))
            return
        links = self._registry.links_for_work_item(integration.id, message.work_item_id)
        work = [_work(message, link) for link in links]
        if not work:
            self._record(message, SKIPPED, "none", "work item is not linked to a Sentry issue")
            return

        states: StateSet | None = None
        if any(item.state_due for item in work):
            try:
                states = self._done_states(integration, message)
            except (ApiError, ConfigurationError) as exc:
                self._record(message, FAILED, "none", "could not read the done-states", error=exc)
                self._fail(message, dequeue_count, [exc])
                return

        failures: list[Exception] = []
        for item in work:
            try:
                self._apply_patiently(integration, message, item, states, dequeue_count)
            except (ApiError, ConfigurationError, StorageUnavailable, LinkBusy) as exc:
                failures.append(exc)
                self._record(
                    message,
                    FAILED,
                    "none",
                    f"not applied: {exc}",
                    link=item.link,
                    error=exc,
                    attempt=dequeue_count,
                )
        if failures:
            self._fail(message, dequeue_count, failures)

    # -- per link -------------------------------------------------------------------------------

    def _apply_patiently(
        self,
        integration: Integration,
        message: SyncMessage,
        item: _Work,
        states: StateSet | None,
        attempt: int,
    ) -> None:
        """Apply to one link; while another run holds it, wait a little and look again.

        Revisions of one work item often arrive together; their runs take turns on the link
        here instead of spending the message's few queue attempts on each other.
        """
        waited, delay = 0.0, 0.1
        while True:
            try:
                self._apply_link(integration, message, item, states, attempt)
                return
            except LinkBusy:
                if waited + delay > BUSY_PATIENCE_SECONDS:
                    raise
            shared.http.pause(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter
            waited, delay = waited + delay, min(delay * 2, 2.0)
            link = next(
                (
                    fresh
                    for fresh in self._registry.links_for_work_item(
                        integration.id, message.work_item_id
                    )
                    if fresh.row_key == item.link.row_key
                ),
                None,
            )
            if link is None:
                self._record(message, SKIPPED, "none", "the link was removed", link=item.link)
                return
            # If no link needed the states at first, this revision was applied everywhere.
            item = _work(message, link, states_needed=states is not None)

    def _apply_link(
        self,
        integration: Integration,
        message: SyncMessage,
        item: _Work,
        states: StateSet | None,
        attempt: int,
    ) -> None:
        link = item.link
        if not item.state_due and not item.assignee_due:
            self._record(message, SKIPPED, "none", "revision already applied", link=link)
            return
        memory, decision = _memory(link), None
        if item.state_due:
            assert message.state is not None and states is not None
            memory, decision = status_step(
                memory, message.rev, message.state.old, message.state.new, states
            )
        if not item.assignee_due and decision is not None and decision.action is StatusAction.NONE:
            # Nothing for Sentry: remember the revision (if it taught us anything), no API call.
            if memory != _memory(link):
                self._commit(link, message, item, memory, link.etag)
            self._record(message, SKIPPED, "none", decision.reason, link=link)
            return

        org = integration.sentry_org(link.sentry_org)
        if org is None:
            raise ConfigurationError(f"Sentry organization {link.sentry_org} is not configured")
        client = sentry_client(org)
        etag = self._claim(link, message.rev)
        try:
            try:
                issue = client.get_issue(org.slug, link.issue_id)
            except ApiNotFound:
                self._commit(link, message, item, memory, etag)
                self._record(message, SKIPPED, "none", "Sentry issue not found", link=link)
                return
            changes: dict[str, Any] = {}
            actions: list[str] = []
            reasons: list[str] = []
            if decision is not None:
                write, why = status_change(issue.status, decision.action, integration.resolution)
                reasons.append(f"{decision.reason}: {why}")
                if write:
                    changes.update(write)
                    actions.append(decision.action.value)
            if item.assignee_due:
                write, why = self._assignee_write(client, org.slug, message, issue)
                reasons.append(why)
                if write:
                    changes.update(write)
                    actions.append("unassign" if write["assignedTo"] == "" else "assign")
            outcome, error = APPLIED, None
            if changes:
                try:
                    client.update_issue(org.slug, link.issue_id, changes)
                except ApiRejected as exc:
                    # A permanent refusal (e.g. the member cannot be assigned in that project):
                    # recorded, not retried.
                    outcome, error = FAILED, exc
            else:
                outcome = SKIPPED
            self._commit(link, message, item, memory, etag)
        except BaseException:
            self._release(link, etag)
            raise
        self._record(
            message,
            outcome,
            "+".join(actions) or "none",
            "; ".join(reasons),
            link=link,
            error=error,
            attempt=attempt,
        )
        log_event(
            "sync.link_done",
            integration=integration.id,
            work_item=message.work_item_id,
            rev=message.rev,
            sentry_org=link.sentry_org,
            issue=link.issue_id,
            outcome=outcome,
            action="+".join(actions) or "none",
        )

    def _assignee_write(
        self, client: Any, org: str, message: SyncMessage, issue: Any
    ) -> tuple[dict[str, Any] | None, str]:
        assert message.assignee is not None
        target = message.assignee.new
        if target is None:
            return assignee_change(issue.is_assigned, issue.assignee_user_id, None)
        if not target.email:
            return None, "assignee has no email address; assignee left as it is"
        user_id = client.member_user_id(org, target.email)
        if user_id is None:
            return None, f"no Sentry member with email {target.email}; assignee left as it is"
        return assignee_change(issue.is_assigned, issue.assignee_user_id, user_id)

    # -- watermarks and leases ------------------------------------------------------------------

    def _claim(self, link: Link, rev: int) -> str:
        now = datetime.now(UTC)
        if link.lease_until is not None and link.lease_until > now:
            raise LinkBusy(f"link {link.row_key} is being applied by another run")
        return self._write_link(
            link,
            {"LeaseUntil": now + timedelta(seconds=LEASE_SECONDS), "LeaseRev": rev},
            link.etag,
        )

    def _release(self, link: Link, etag: str) -> None:
        try:
            self._write_link(link, {"LeaseUntil": datetime.fromtimestamp(0, UTC)}, etag)
        except (SyncError, ResourceNotFoundError) as exc:
            # The lease runs out by itself; retries wait for it at worst.
            log_event("sync.release_failed", logging.WARNING, error=type(exc).__name__)

    def _commit(
        self,
        link: Link,
        message: SyncMessage,
        item: _Work,
        memory: StatusMemory,
        etag: str | None,
    ) -> None:
        changes: dict[str, Any] = {"LeaseUntil": datetime.fromtimestamp(0, UTC)}
        if item.state_due:
            changes["StateRev"] = memory.rev
            changes["LastState"] = memory.state or ""
            if memory.cross_done is not None:
                changes["CrossRev"] = memory.cross_rev
                changes["CrossDone"] = memory.cross_done
        if item.assignee_due:
            changes["AssigneeRev"] = message.rev
        self._write_link(link, changes, etag)

    def _write_link(self, link: Link, changes: dict[str, Any], etag: str | None) -> str:
        entity = {"PartitionKey": link.integration_id, "RowKey": link.row_key, **changes}
        with storage_errors():
            try:
                result = self._storage.table(LINKS).update_entity(
                    entity,
                    mode=UpdateMode.MERGE,
                    etag=etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                raise LinkBusy(f"link {link.row_key} changed while this run worked on it") from None
        return str(result["etag"])

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

    def _fail(self, message: SyncMessage, dequeue_count: int, errors: list[Exception]) -> None:
        summary = "; ".join(sorted({f"{type(e).__name__}: {e}" for e in errors}))[:500]
        if dequeue_count >= max_dequeue_count():
            # Last attempt: park it in the poison queue ourselves, with an audit row, so the
            # trail says why; `poison replay` brings it back once the cause is fixed.
            with storage_errors():
                self._storage.poison_queue.send_message(message.encode())
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
