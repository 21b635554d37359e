"""Queue trigger: act on one event Sentry's webhooks queued (alert rules create work items).

Returning means done; an exception means "try again" (the host poisons the message after
maxDequeueCount tries; the last try parks it itself, with an audit row).
"""

import azure.functions as func

from shared.sentry_to_devops.events import handle_sentry_event


def main(msg: func.QueueMessage) -> None:
    handle_sentry_event(msg.get_body().decode("utf-8", errors="replace"), msg.dequeue_count or 1)
