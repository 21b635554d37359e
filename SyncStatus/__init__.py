"""Queue trigger: apply one work-item change to the linked Sentry issues.

Returning means done (the host deletes the message); an exception means "try again" (the host
makes it visible again after visibilityTimeout, and poisons it after maxDequeueCount tries).
"""

import azure.functions as func

from shared.devops_to_sentry.sync import handle_queue_message


def main(msg: func.QueueMessage) -> None:
    handle_queue_message(msg.get_body().decode("utf-8", errors="replace"), msg.dequeue_count or 1)
