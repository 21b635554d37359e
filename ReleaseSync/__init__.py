"""Queue trigger: a push or a completed deployment becomes a Sentry release and deploy."""

import azure.functions as func

from shared.releases.apply import handle_release_message


def main(msg: func.QueueMessage) -> None:
    handle_release_message(msg.get_body().decode("utf-8", errors="replace"), msg.dequeue_count or 1)
