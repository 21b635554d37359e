"""The timer's round (``SubscriptionCheck``, every 15 minutes), for every active integration:

1. repair broken service hook subscriptions, then reconcile changes lost meanwhile
   (``devops_intake.subscriptions``);
2. start a round of the sweep of every link (``sweep.run``: chunks on the Sentry queue that
   compare Sentry with the links and carry what changed), unless one is under way;
3. delete old delivery markers and audit rows (``retention``).

One integration or one step failing does not stop the others; each failure is logged and
recorded in the audit trail.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.devops_intake.subscriptions import Subscriptions
from shared.errors import ConfigurationError, InvalidInput, StorageUnavailable, SyncError
from shared.http import ApiError
from shared.log import log_event
from shared.maintenance.retention import prune
from shared.store.audit import FAILED, KIND_UPKEEP, AuditEntry, AuditLog
from shared.store.integrations import Integrations
from shared.store.storage import Storage
from shared.sweep.rounds import start_round

_EXPECTED = (ApiError, ConfigurationError, InvalidInput, StorageUnavailable, SyncError)


def run_maintenance(storage: Storage) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    subscriptions = Subscriptions(storage).check_all()
    for integration in Integrations(storage).list_all():
        result: dict[str, Any] = {"subscriptions": subscriptions.get(integration.id, [])}
        try:
            started = start_round(storage, integration.id)
            result["sweep"] = "started" if started else "under way"
        except _EXPECTED as exc:
            _failed(storage, integration.id, "sweep", exc)
            result["sweep"] = f"failed: {exc}"
        try:
            result["pruned"] = prune(storage, integration.id)
        except _EXPECTED as exc:
            _failed(storage, integration.id, "prune", exc)
            result["pruned"] = f"failed: {exc}"
        results[integration.id] = result
    return results


def _failed(storage: Storage, integration_id: str, step: str, exc: Exception) -> None:
    log_event(
        "maintenance.failed",
        logging.ERROR,
        integration=integration_id,
        step=step,
        error=type(exc).__name__,
    )
    try:
        AuditLog(storage).record(
            integration_id,
            AuditEntry(
                kind=KIND_UPKEEP,
                work_item_id=0,
                rev=0,
                outcome=FAILED,
                action=step,
                reason=str(exc),
                error=type(exc).__name__,
            ),
        )
    except StorageUnavailable:
        pass  # logged above; storage itself is what failed
