"""Timer trigger (every 15 minutes): repair broken service hook subscriptions, then reconcile."""

import azure.functions as func

from shared.storage import get_storage
from shared.subscriptions import Subscriptions


def main(timer: func.TimerRequest) -> None:
    Subscriptions(get_storage()).check_all()
