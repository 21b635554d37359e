"""SyncStatus: apply one work-item change (a sync queue message) to every linked Sentry issue.

The queue door (``doors.consume``) runs ``Syncer.apply``: it reads the integration and the work
item's links (with their repair marks), the done-states when the message moves the state, and
runs one ``link_round`` per link. Each link succeeds or fails alone; the failed ones are
audited and the message retried, and on its last attempt parked with an audit row.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from shared.azure_devops.fields import FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE
from shared.clients import azure_devops_client, made_by_app
from shared.devops_to_sentry.done_states import DoneStates
from shared.devops_to_sentry.link_round import LinkBusy, LinkRounds
from shared.devops_to_sentry.rules import StateSet
from shared.doors import consume, read_message
from shared.errors import (
    ConfigurationError,
    IntegrationNotFound,
    IntegrationRemoved,
    StorageUnavailable,
    SyncError,
    Unreadable,
)
from shared.http import ApiError, ApiRejected
from shared.log import log_event
from shared.messages.sync import SyncMessage
from shared.notices.failures import tell_devops
from shared.store.audit import (
    FAILED,
    KIND_DEVOPS,
    POISONED,
    SKIPPED,
    UNREADABLE_PARTITION,
    AuditEntry,
    AuditLog,
)
from shared.store.integrations import Integrations
from shared.store.link_memory import LinkChanged, LinkMemoryStore
from shared.store.records import Integration, Link
from shared.store.storage import Storage, get_storage
from shared.validation import normalize_guid

QUEUE_EDGE = "sync"
LINK_WORKERS = 16  # links of one message settled at once (mostly waiting on Sentry)


class NotApplied(SyncError):
    """Some links (or the done-states they need) failed; each has its audit row already."""

    def __init__(self, errors: list[Exception]) -> None:
        super().__init__("; ".join(sorted({f"{type(e).__name__}: {e}" for e in errors}))[:500])
        self.errors = errors


def handle_queue_message(text: str, dequeue_count: int, storage: Storage | None = None) -> None:
    """Process one sync queue message. Raises ``RetryLater`` to have the queue try again.

    Every way a message can end in the poison queue passes through ``Syncer.give_up``, which
    writes an audit row (unless storage itself is down, when only the log says it).
    """
    syncer = Syncer(storage or get_storage())
    consume(
        QUEUE_EDGE,
        dequeue_count,
        lambda: syncer.apply(read_message(SyncMessage, text), dequeue_count),
        lambda exc: syncer.give_up(text, exc, dequeue_count),
    )


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
        self._integrations = Integrations(storage)
        self._memory = LinkMemoryStore(storage)
        self._audit = AuditLog(storage)
        self._states: StateSet | None = None
        self._states_lock = threading.Lock()
        self._rounds = LinkRounds(
            self._memory, self.record, self._states_for, self._is_echo, self._notify
        )

    def apply(self, message: SyncMessage, dequeue_count: int) -> None:
        """Apply ``message`` to each link; raises ``NotApplied`` if some could not be."""
        try:
            # As it is now (one read): a setting changed with the CLI is in force for the
            # next message.
            integration = self._integrations.get(message.integration_id, with_orgs=True)
        except (IntegrationNotFound, IntegrationRemoved) as exc:
            log_event("sync.no_integration", logging.WARNING, integration=message.integration_id)
            self.record(message, SKIPPED, "none", str(exc))
            return
        links, marks = self._memory.read(integration.id, message.work_item_id)
        if not links:
            self.record(message, SKIPPED, "none", "work item is not linked to a Sentry issue")
            return
        links = self._installed(integration, message, links)
        if message.comment is not None:
            if not integration.sync.comments:
                self.record(message, SKIPPED, "none", "comment sync is off")
                return
            from shared.comments.to_sentry import carry_comment  # on the first comment only

            failures = carry_comment(self._storage, integration, message, links, self.record)
            if failures:
                raise NotApplied(failures)
            return
        moved = message.state is not None and integration.sync.status_to_sentry
        if moved and any(link.state_rev != message.rev for link in links):
            try:
                self._states_for(integration, message)
            except (ApiError, ConfigurationError) as exc:
                self.record(
                    message, FAILED, "none", f"could not read the done-states: {exc}", error=exc
                )
                raise NotApplied([exc]) from exc

        def settle(link: Link) -> Exception | None:
            mark = next((m for m in marks if m.link_row == link.row_key), None)
            try:
                self._rounds.settle(integration, message, link, mark, dequeue_count)
            except (ApiError, ConfigurationError, StorageUnavailable, LinkBusy, LinkChanged) as exc:
                self.record(
                    message,
                    FAILED,
                    "none",
                    f"not applied: {exc}",
                    link=link,
                    error=exc,
                    attempt=dequeue_count,
                )
                return exc
            return None

        # Each link is its own round under its own lease, so links go side by side (bounded):
        # a work item with 100 links waits for the slowest few, not for the sum.
        if len(links) > 1 and LINK_WORKERS > 1:
            with ThreadPoolExecutor(max_workers=min(LINK_WORKERS, len(links))) as pool:
                outcomes = list(pool.map(settle, links))
        else:
            outcomes = [settle(link) for link in links]
        failures = [exc for exc in outcomes if exc is not None]
        if failures:
            raise NotApplied(failures)

    # -- per link -------------------------------------------------------------------------------

    def _installed(
        self, integration: Integration, message: SyncMessage, links: list[Link]
    ) -> list[Link]:
        """The links into organizations the integration is installed in; the rest are
        skipped, with an audit row each."""
        kept = []
        for link in links:
            org = integration.sentry_org(link.sentry_org)
            if org is not None and org.uninstalled:
                reason = f"the integration is uninstalled from Sentry organization {org.slug}"
                self.record(message, SKIPPED, "none", reason, link=link)
            else:
                kept.append(link)
        return kept

    def _notify(
        self, integration: Integration, message: SyncMessage, link: Link, kind: str, said: str
    ) -> None:
        tell_devops(self._storage, integration, link, kind, said, message.project_name)

    def _is_echo(self, integration: Integration, message: SyncMessage) -> bool:
        return made_by_app(integration, message.changed_by)

    def _states_for(self, integration: Integration, message: SyncMessage) -> StateSet:
        """The done-states for the message's work item, read once per run (links settled
        side by side share it)."""
        with self._states_lock:
            if self._states is None:
                self._states = self._done_states(integration, message)
            return self._states

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

    def give_up(self, text: str, exc: Exception, dequeue_count: int) -> None:
        """Park the message in the poison queue, with an audit row saying why; ``poison
        replay`` brings it back once the cause is fixed."""
        if isinstance(exc, Unreadable):
            # No later attempt can read it either: parked as it came, where people can see it.
            log_event("sync.unreadable_message", logging.ERROR, error=str(exc))
            self._storage.send_poison(text)
            self._audit.record(
                _integration_of(text) or UNREADABLE_PARTITION,
                AuditEntry(
                    kind=KIND_DEVOPS,
                    work_item_id=0,
                    rev=0,
                    outcome=POISONED,
                    action="none",
                    reason=f"unreadable sync message: {exc}",
                    error="ValidationError",
                ),
            )
            return
        message = read_message(SyncMessage, text)
        first = exc.errors[0] if isinstance(exc, NotApplied) else exc
        self._storage.send_poison(message.encode())
        self.record(
            message, POISONED, "none", f"gave up after {dequeue_count} attempts", error=first
        )
        log_event(
            "sync.poisoned",
            logging.ERROR,
            work_item=message.work_item_id,
            rev=message.rev,
            errors=str(exc)[:500],
        )

    def record(
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
                kind=KIND_DEVOPS,
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
