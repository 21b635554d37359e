"""Sentry issue status and assignee -> every linked work item (``issue`` events).

Sentry sends webhooks once, unordered and without retries, so the webhook's action only says
*that* something changed: the issue is read again and its **current** status and assignee
decide (``rules``). Each work item is read, decided on and written with JSON Patch guarded by
``{"op": "test", "path": "/rev"}``; a 412 (someone changed it meanwhile) reads and decides
again. A state the type rejects, or an email Azure DevOps does not know, is an audit row, not
a retry. Changes made with our own token (the ``actor``) are echoes of the other direction and
are skipped; every write is also compared with the current value first.
"""

from __future__ import annotations

import logging
import threading
import time

from shared.azure_devops.client import AzureDevOpsClient
from shared.azure_devops.fields import (
    FIELD_ASSIGNED_TO,
    FIELD_STATE,
    FIELD_TEAM_PROJECT,
    FIELD_WORK_ITEM_TYPE,
)
from shared.azure_devops.identity import parse_identity
from shared.azure_devops.shapes import WorkItem, set_field
from shared.clients import azure_devops_client, sentry_client
from shared.devops_to_sentry.done_states import DoneStates
from shared.errors import GiveUp
from shared.http import ApiNotFound, ApiRejected
from shared.log import log_event
from shared.messages.sentry_event import SentryEventMessage
from shared.notices.failures import tell_sentry
from shared.sentry.shapes import SentryIssue
from shared.sentry_to_devops import regression
from shared.sentry_to_devops.rules import Move, TypeState, assignee_move, state_move
from shared.store.audit import APPLIED, FAILED, KIND_SENTRY, SKIPPED, AuditEntry, AuditLog
from shared.store.links import Links
from shared.store.records import Integration, Link, SentryOrg
from shared.store.storage import Storage
from shared.store.sync_settings import COMMENT, NEW, REOPEN, most_specific

ROUNDS = 3  # reads and decisions per work item when it keeps changing under us (412)
CACHE_SECONDS = 3600.0
STATUS_ACTIONS = frozenset({"resolved", "unresolved", "ignored", "archived"})
ASSIGNEE_ACTIONS = frozenset({"assigned", "unassigned"})
REGRESSED = "regressed"  # the substatus of an issue Sentry reopened by itself

_lock = threading.Lock()
_type_states: dict[tuple[str, str, str], tuple[float, list[TypeState]]] = {}


def apply_issue(
    storage: Storage, integration: Integration, org: SentryOrg, message: SentryEventMessage
) -> None:
    if message.issue is None:
        raise GiveUp("an issue event without its issue")
    issue_id = message.issue.issue.id
    audit = _Audit(storage, integration, org, issue_id, message)
    actor = message.actor
    if actor is not None and org.made_by_us(actor.type, actor.id):
        audit.record(0, SKIPPED, "none", "made by this app (an echo of Azure DevOps); skipped")
        return
    status = message.action in STATUS_ACTIONS and integration.sync.status_to_devops
    assignee = message.action in ASSIGNEE_ACTIONS and integration.sync.assignee_to_devops
    # Sentry sends no webhook for a regression; the sweep queues it as an unresolve, and the
    # regression policy applies whatever the status direction.
    maybe_regression = message.action == "unresolved"
    if not (status or assignee or maybe_regression):
        audit.record(0, SKIPPED, "none", f"issue.{message.action} is not synced to Azure DevOps")
        return
    links = Links(storage).for_issue(integration.id, org.slug, issue_id)
    if not links:
        audit.record(0, SKIPPED, "none", "the issue is not linked to a work item")
        return
    try:
        issue = sentry_client(org).get_issue(org.slug, issue_id)
    except ApiNotFound:
        audit.record(0, SKIPPED, "none", "the Sentry issue no longer exists")
        return
    regressed = issue.status == "unresolved" and issue.substatus == REGRESSED
    if not (status or assignee or regressed):
        audit.record(0, SKIPPED, "none", f"issue.{message.action} is not synced to Azure DevOps")
        return
    client = azure_devops_client(integration)
    for link in links:
        if regressed and _regression(storage, client, integration, org, issue, link, audit):
            if assignee:
                _apply_to(
                    storage, client, integration, issue, link, audit, status=False, assignee=True
                )
            continue
        if status or assignee:
            _apply_to(
                storage, client, integration, issue, link, audit, status=status, assignee=assignee
            )


def _regression(
    storage: Storage,
    client: AzureDevOpsClient,
    integration: Integration,
    org: SentryOrg,
    issue: SentryIssue,
    link: Link,
    audit: _Audit,
) -> bool:
    """Apply the regression policy if the work item is done; False if it is not (then the
    issue's unresolve is handled as any other)."""
    try:
        item = client.work_item(link.work_item_id)
    except ApiNotFound:
        audit.record(link.work_item_id, SKIPPED, "none", "the work item no longer exists")
        return True
    done = DoneStates(storage).of_work_item(integration, client, item.fields)
    state = str(item.fields.get(FIELD_STATE) or "")
    if not done.is_done(state):
        return False
    policy = regression.policy_for(integration, item)
    if policy == REOPEN:
        _apply_to(storage, client, integration, issue, link, audit, status=True, assignee=False)
    elif policy == COMMENT:
        made = regression.comment_once(storage, client, integration, org, issue, item)
        audit.record(
            item.id, APPLIED if made else SKIPPED, "regression-comment" if made else "none",
            f"regressed while {state}: " + ("commented that it occurred again" if made
                                           else "already commented for this regression"),
            rev=item.rev,
        )  # fmt: skip
    elif policy == NEW:
        new_id = regression.new_work_item(storage, client, integration, org, issue, item, link)
        audit.record(
            item.id, APPLIED, "regression-new",
            f"regressed while {state}: work item {new_id} created, related to {item.id}, and "
            "linked to the issue instead",
            rev=item.rev,
        )  # fmt: skip
    else:
        audit.record(item.id, SKIPPED, "none", f"regressed while {state}; regression policy off")
    return True


def _apply_to(
    storage: Storage,
    client: AzureDevOpsClient,
    integration: Integration,
    issue: SentryIssue,
    link: Link,
    audit: _Audit,
    *,
    status: bool,
    assignee: bool,
) -> None:
    for _ in range(ROUNDS):
        try:
            item = client.work_item(link.work_item_id)
        except ApiNotFound:
            audit.record(link.work_item_id, SKIPPED, "none", "the work item no longer exists")
            return
        moves = _decide(storage, client, integration, issue, item, status, assignee)
        operations = [
            set_field(field, move.value) for field, move in moves if move.value is not None
        ]
        reasons = "; ".join(move.reason for _, move in moves)
        if not operations:
            audit.record(item.id, SKIPPED, "none", reasons, rev=item.rev)
            return
        guarded = [{"op": "test", "path": "/rev", "value": item.rev}, *operations]
        try:
            client.update_work_item(item.id, guarded)
        except ApiRejected as exc:
            if exc.status == 412:
                continue  # changed since we read it: read and decide again
            said = exc.remote_message or exc.detail
            audit.record(
                item.id, FAILED, _action(moves), f"Azure DevOps refused: {said}", error=exc
            )
            tell_sentry(storage, integration, link, said)
            return
        audit.record(item.id, APPLIED, _action(moves), reasons, rev=item.rev)
        log_event(
            "sentry_to_devops.applied",
            integration=integration.id,
            work_item=item.id,
            action=_action(moves),
        )
        return
    audit.record(link.work_item_id, FAILED, "none", "the work item kept changing; not applied")


def _decide(
    storage: Storage,
    client: AzureDevOpsClient,
    integration: Integration,
    issue: SentryIssue,
    item: WorkItem,
    status: bool,
    assignee: bool,
) -> list[tuple[str, Move]]:
    fields = item.fields
    moves: list[tuple[str, Move]] = []
    if status:
        project = str(fields.get(FIELD_TEAM_PROJECT) or "")
        kind = str(fields.get(FIELD_WORK_ITEM_TYPE) or "")
        states = _states(client, integration.id, project, kind)
        done = DoneStates(storage).of_work_item(integration, client, fields)
        mapping = most_specific(integration.resolve_states, project, None, kind)
        current = fields.get(FIELD_STATE)
        moves.append(
            (
                FIELD_STATE,
                state_move(issue.status, str(current) if current else None, states, done, mapping),
            )
        )
    if assignee:
        who = parse_identity(fields.get(FIELD_ASSIGNED_TO))
        sentry = issue.assigned_to
        moves.append(
            (
                FIELD_ASSIGNED_TO,
                assignee_move(
                    sentry.type if sentry else None,
                    sentry.email if sentry else None,
                    who.unique_name if who else None,
                    assigned=sentry is not None,
                ),
            )
        )
    return moves


def _states(
    client: AzureDevOpsClient, integration_id: str, project: str, kind: str
) -> list[TypeState]:
    """The type's states in order, with categories (cached in the process)."""
    key = (integration_id, project.casefold(), kind.casefold())
    with _lock:
        hit = _type_states.get(key)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    states = [TypeState(s.name, s.category) for s in client.work_item_type_states(project, kind)]
    with _lock:
        _type_states[key] = (time.monotonic() + CACHE_SECONDS, states)
    return states


def forget_cached_type_states() -> None:
    with _lock:
        _type_states.clear()


def _action(moves: list[tuple[str, Move]]) -> str:
    names = {FIELD_STATE: "state", FIELD_ASSIGNED_TO: "assign"}
    return "+".join(names[field] for field, move in moves if move.value is not None) or "none"


class _Audit:
    def __init__(
        self,
        storage: Storage,
        integration: Integration,
        org: SentryOrg,
        issue_id: str,
        message: SentryEventMessage,
    ) -> None:
        self._log = AuditLog(storage)
        self._integration, self._org, self._issue = integration, org, issue_id
        self._event = f"issue.{message.action}"

    def record(
        self,
        work_item_id: int,
        outcome: str,
        action: str,
        reason: str,
        *,
        rev: int = 0,
        error: Exception | None = None,
    ) -> None:
        if outcome == FAILED:
            log_event("sentry_to_devops.failed", logging.WARNING, work_item=work_item_id)
        self._log.record(
            self._integration.id,
            AuditEntry(
                kind=KIND_SENTRY,
                work_item_id=work_item_id,
                rev=rev,
                outcome=outcome,
                action=action,
                reason=f"Sentry {self._event}: {reason}",
                sentry_org=self._org.slug,
                issue_id=self._issue,
                error=type(error).__name__ if error else None,
            ),
        )
