"""Timer trigger (every 15 minutes): repair subscriptions and reconcile, queue corrections
where Sentry drifted from the links' memory, prune old markers and audit rows."""

import azure.functions as func

from shared.maintenance.timer import run_maintenance
from shared.store.storage import get_storage


def main(timer: func.TimerRequest) -> None:
    run_maintenance(get_storage())
