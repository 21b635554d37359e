"""What an event handler of the intake gets (an authenticated delivery) and how it answers
"nothing to do"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.azure_devops.hooks import ServiceHookEvent
from shared.doors import Reply
from shared.log import log_event
from shared.store.records import Integration
from shared.store.storage import Storage


@dataclass(frozen=True)
class HookDelivery:
    """A service-hook delivery whose secret matched ``integration``."""

    storage: Storage
    integration: Integration
    event: ServiceHookEvent


Handler = Callable[[HookDelivery], Reply]


def ignored(event: ServiceHookEvent, reason: str, work_item_id: int | None = None) -> Reply:
    """200 with the reason: accepted, nothing to do (Azure DevOps shows it in the history)."""
    log_event(
        "webhook.ignored",
        integration=event.collection_id,
        event_type=event.event_type[:64],
        work_item=work_item_id,
        reason=reason,
    )
    body: dict[str, Any] = {"status": "ignored", "reason": reason}
    if work_item_id is not None:
        body["workItemId"] = work_item_id
    return Reply(200, body)
