"""Which states of a work item type count as done, for one integration.

Order of precedence: the integration's explicit mapping for (project, type) (set with the
CLI; ``*`` matches any project or type); else the states whose category is ``Resolved`` or
``Completed``, read from Azure DevOps for that project and the item's own type and cached in
process and in Table Storage for ``CACHE_SECONDS``. If they cannot be read the error
propagates: the message is retried, never decided on a guess.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from azure.core.exceptions import ResourceNotFoundError

from shared.azure_devops import WorkItemState
from shared.registry import Integration
from shared.rules import StateSet
from shared.storage import STATE_CACHE, Storage, storage_errors

CACHE_SECONDS = 3600.0

_lock = threading.Lock()
_memory: dict[tuple[str, str, str], tuple[float, StateSet]] = {}
_flights: dict[tuple[str, str, str], threading.Lock] = {}


def _cached(key: tuple[str, str, str]) -> StateSet | None:
    with _lock:
        cached = _memory.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return None


def explicit_states(
    integration: Integration, project: str | None, project_id: str | None, work_item_type: str
) -> StateSet | None:
    names = {p.casefold() for p in (project, project_id) if p}
    kind = work_item_type.casefold()
    for want_project, want_type in ((True, True), (True, False), (False, True), (False, False)):
        for mapping in integration.done_states:
            project_ok = (
                mapping.project.casefold() in names if want_project else mapping.project == "*"
            )
            type_ok = (
                mapping.work_item_type.casefold() == kind
                if want_type
                else mapping.work_item_type == "*"
            )
            if project_ok and type_ok:
                return StateSet.of(mapping.states)
    return None


def _row_key(project: str, work_item_type: str) -> str:
    # Table keys may not hold / \ # ? and stay under 1 KiB: percent-encoded, readable for
    # the names people use, a digest for the rare name that would be too long.
    key = f"{quote(project.casefold(), safe='')}:{quote(work_item_type.casefold(), safe='')}"
    if len(key) <= 400:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class DoneStates:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def for_item(
        self,
        integration: Integration,
        fetch: Callable[[str, str], list[WorkItemState]],
        *,
        project: str | None,
        project_id: str | None,
        work_item_type: str,
    ) -> StateSet:
        explicit = explicit_states(integration, project, project_id, work_item_type)
        if explicit is not None:
            return explicit
        project_key = project_id or project or ""
        key = (integration.id, project_key.casefold(), work_item_type.casefold())
        cached = _cached(key)
        if cached is not None:
            return cached
        # Single flight: a burst of runs in this process on a cold cache waits for one read
        # (the first run's) instead of each asking Azure DevOps.
        with _lock:
            flight = _flights.setdefault(key, threading.Lock())
        with flight:
            cached = _cached(key)
            if cached is not None:
                return cached
            states = self._from_table(integration.id, project_key, work_item_type)
            if states is None:
                fetched = fetch(project_key, work_item_type)
                states = StateSet.from_categories((s.name, s.category) for s in fetched)
                self._to_table(integration.id, project_key, work_item_type, states)
            with _lock:
                _memory[key] = (time.monotonic() + CACHE_SECONDS, states)
        return states

    def _from_table(
        self, integration_id: str, project: str, work_item_type: str
    ) -> StateSet | None:
        with storage_errors():
            try:
                row = self._storage.table(STATE_CACHE).get_entity(
                    integration_id, _row_key(project, work_item_type)
                )
            except ResourceNotFoundError:
                return None
        fetched_at = row.get("FetchedAt")
        if not isinstance(fetched_at, datetime) or (
            datetime.now(UTC) - fetched_at > timedelta(seconds=CACHE_SECONDS)
        ):
            return None
        return StateSet(frozenset(json.loads(row["Done"])), frozenset(json.loads(row["Removed"])))

    def _to_table(
        self, integration_id: str, project: str, work_item_type: str, states: StateSet
    ) -> None:
        with storage_errors():
            self._storage.table(STATE_CACHE).upsert_entity(
                {
                    "PartitionKey": integration_id,
                    "RowKey": _row_key(project, work_item_type),
                    "Done": json.dumps(sorted(states.done)),
                    "Removed": json.dumps(sorted(states.removed)),
                    "FetchedAt": datetime.now(UTC),
                }
            )


def forget_cached_states() -> None:
    """Drop the in-process cache (after an operator changes a process, and in tests)."""
    with _lock:
        _memory.clear()
