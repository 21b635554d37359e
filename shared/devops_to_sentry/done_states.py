"""Which states of a work item type count as done, for one integration.

Order of precedence: the integration's explicit mapping for (project, type) (set with the
CLI; ``*`` matches any project or type); else the states whose category is ``Resolved`` or
``Completed``, read from Azure DevOps for that project and the item's own type and cached in
process and in Table Storage (``store.state_cache``) for ``CACHE_SECONDS``. If they cannot be
read the error propagates: the message is retried, never decided on a guess.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from shared import http
from shared.azure_devops.fields import FIELD_TEAM_PROJECT, FIELD_WORK_ITEM_TYPE
from shared.devops_to_sentry.rules import StateSet
from shared.http import ApiError
from shared.store.records import Integration
from shared.store.state_cache import StateCache
from shared.store.storage import Storage
from shared.store.sync_settings import most_specific

if TYPE_CHECKING:
    from shared.azure_devops.client import AzureDevOpsClient
    from shared.azure_devops.shapes import WorkItemState

CACHE_SECONDS = 3600.0
# A failed read is remembered this long, so a burst of messages fails fast (and is retried by
# the queue) instead of each asking Azure DevOps again while it throttles or is down.
FAILURE_SECONDS = 10.0

_lock = threading.Lock()
_memory: dict[tuple[str, str, str], tuple[float, StateSet]] = {}
_flights: dict[tuple[str, str, str], threading.Lock] = {}
_failures: dict[tuple[str, str, str], tuple[float, Exception]] = {}


def _cached(key: tuple[str, str, str]) -> StateSet | None:
    with _lock:
        cached = _memory.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    return None


def explicit_states(
    integration: Integration, project: str | None, project_id: str | None, work_item_type: str
) -> StateSet | None:
    mapping = most_specific(integration.done_states, project, project_id, work_item_type)
    return StateSet.of(mapping.states) if mapping is not None else None


class DoneStates:
    def __init__(self, storage: Storage) -> None:
        self._cache = StateCache(storage)

    def of_work_item(
        self, integration: Integration, client: AzureDevOpsClient, fields: dict[str, object]
    ) -> StateSet:
        """The done-states for a work item read from Azure DevOps (its project and type)."""
        return self.for_item(
            integration,
            lambda project, kind: client.work_item_type_states(project, kind),
            project=str(fields.get(FIELD_TEAM_PROJECT) or ""),
            project_id=None,
            work_item_type=str(fields.get(FIELD_WORK_ITEM_TYPE) or ""),
        )

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
            with _lock:
                failed = _failures.get(key)
            if failed is not None and failed[0] > http.clock():
                raise failed[1]
            stored = self._cache.read(
                integration.id, project_key, work_item_type, timedelta(seconds=CACHE_SECONDS)
            )
            if stored is not None:
                states = StateSet(*stored)
            else:
                try:
                    fetched = fetch(project_key, work_item_type)
                except ApiError as exc:
                    with _lock:
                        _failures[key] = (http.clock() + FAILURE_SECONDS, exc)
                    raise
                states = StateSet.from_categories((s.name, s.category) for s in fetched)
                self._cache.write(
                    integration.id, project_key, work_item_type, (states.done, states.removed)
                )
            with _lock:
                _memory[key] = (time.monotonic() + CACHE_SECONDS, states)
        return states


def forget_cached_states() -> None:
    """Drop the in-process cache (after an operator changes a process, and in tests)."""
    with _lock:
        _memory.clear()
        _failures.clear()
