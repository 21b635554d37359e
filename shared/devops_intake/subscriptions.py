"""Keep the Azure DevOps service hook subscriptions of each integration healthy.

Azure DevOps puts a failing subscription on probation (new events are lost) and then disables
it. ``check`` finds subscriptions that are missing, ``onProbation``, ``disabledBySystem`` or
``disabledByInactiveIdentity`` and repairs them: it recreates or re-enables them. Any repair
needs the webhook secret, which we only keep hashed, so a repair rotates it first (the
previous secret stays valid) and rolls the new one out to *every* subscription of the
integration, healthy ones too; nothing is left holding a retired secret. A subscription a
person disabled (``disabledByUser``) is reported, not touched. Every action is an audit row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from shared.azure_devops.fields import (
    DEPLOYMENT_COMPLETED,
    GIT_PUSH,
    STAGE_STATE_CHANGED,
    WORK_ITEM_COMMENTED,
    WORK_ITEM_UPDATED,
)
from shared.azure_devops.shapes import subscription_body
from shared.clients import azure_devops_client
from shared.credentials import token_from_setting
from shared.errors import ConfigurationError, InvalidInput, StorageUnavailable
from shared.http import ApiError
from shared.log import log_event
from shared.store.audit import APPLIED, FAILED, KIND_UPKEEP, AuditEntry, AuditLog
from shared.store.integrations import Integrations
from shared.store.records import HookSubscription, Integration
from shared.store.storage import Storage

REPAIRABLE = frozenset({"onProbation", "disabledBySystem", "disabledByInactiveIdentity"})


@dataclass(frozen=True)
class SubscriptionStatus:
    id: str
    project_id: str | None
    status: str  # Azure DevOps' status, or "missing"
    event_type: str = WORK_ITEM_UPDATED

    def to_public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "projectId": self.project_id,
            "eventType": self.event_type,
            "status": self.status,
        }


EVENT_TYPES = (
    WORK_ITEM_UPDATED,
    WORK_ITEM_COMMENTED,
    GIT_PUSH,
    DEPLOYMENT_COMPLETED,
    STAGE_STATE_CHANGED,
)


def desired_subscription(
    integration: Integration,
    secret: str,
    project_id: str | None,
    status: str = "enabled",
    event_type: str = WORK_ITEM_UPDATED,
) -> dict[str, Any]:
    """The subscription body for ``integration``: its webhook URL with the function key."""
    if not integration.hook_url:
        raise InvalidInput("the integration has no webhook URL: run 'subscription create --url'")
    url = integration.hook_url
    if integration.hook_key_setting:
        url += "?code=" + token_from_setting(integration.hook_key_setting)
    return subscription_body(url, secret, project_id, status, event_type)


class Subscriptions:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._integrations = Integrations(storage)
        self._audit = AuditLog(storage)

    def create(
        self,
        integration_id: str,
        project_id: str | None,
        event_type: str = WORK_ITEM_UPDATED,
    ) -> tuple[HookSubscription, str]:
        """Create one more subscription (optionally for one project), rolling out a new secret;
        returns it and the secret (for the person, who may be testing with the previous one)."""
        if event_type not in EVENT_TYPES:
            raise InvalidInput(f"event type must be one of {', '.join(EVENT_TYPES)}")
        integration = self._integrations.get(integration_id)
        if not integration.hook_url:
            raise InvalidInput("the integration has no webhook URL: give --url")
        if not (integration.hook_key_setting or integration.hook_anonymous):
            # Stored before keys were required: such a subscription gets 401 from Azure.
            raise InvalidInput(
                "the webhook URL has no function key: give --url again with --key-setting "
                "NAME (or --anonymous if WorkItemWebhook is anonymous)"
            )
        client = azure_devops_client(integration)
        secret = self._integrations.rotate_secret(integration.id)
        integration = self._integrations.get(integration.id)
        created = client.create_subscription(
            desired_subscription(integration, secret, project_id, event_type=event_type)
        )
        subscription = HookSubscription(str(created["id"]), project_id, event_type)
        kept = [*integration.subscriptions, subscription]
        self._integrations.set_subscriptions(integration.id, kept)
        self._roll_out(integration, secret, [s for s in kept if s.id != subscription.id])
        self._record(integration, "subscription-create", f"created subscription {subscription.id}")
        return subscription, secret

    def statuses(self, integration_id: str) -> list[SubscriptionStatus]:
        integration = self._integrations.get(integration_id)
        client = azure_devops_client(integration)
        found = []
        for sub in integration.subscriptions:
            current = client.get_subscription(sub.id)
            status = "missing" if current is None else str(current.get("status", "unknown"))
            found.append(SubscriptionStatus(sub.id, sub.project_id, status, sub.event_type))
        return found

    def check(self, integration_id: str) -> list[str]:
        """Repair what needs it, then reconcile what was lost meanwhile; returns what was done
        (empty: all healthy)."""
        integration = self._integrations.get(integration_id)
        statuses = self.statuses(integration.id)
        broken = [s for s in statuses if s.status == "missing" or s.status in REPAIRABLE]
        actions = [
            f"subscription {s.id} was disabled by a user; left alone"
            for s in statuses
            if s.status == "disabledByUser"
        ]
        if not broken:
            return actions
        client = azure_devops_client(integration)
        secret = self._integrations.rotate_secret(integration.id)
        integration = self._integrations.get(integration.id)
        kept: list[HookSubscription] = []
        for status in statuses:
            sub = HookSubscription(status.id, status.project_id, status.event_type)
            if status.status == "missing":
                created = client.create_subscription(
                    desired_subscription(
                        integration, secret, status.project_id, event_type=status.event_type
                    )
                )
                sub = HookSubscription(str(created["id"]), status.project_id, status.event_type)
                action = f"recreated missing subscription {status.id} as {sub.id}"
                self._record(integration, "subscription-recreate", action)
                actions.append(action)
            elif status.status in REPAIRABLE:
                action = f"re-enabled subscription {status.id} ({status.status})"
                self._record(integration, "subscription-enable", action)
                actions.append(action)
            kept.append(sub)
        self._integrations.set_subscriptions(integration.id, kept)
        # Re-enables the repairable ones and gives every existing one the new secret.
        new_ids = {s.id for s in kept} - {s.id for s in statuses}
        self._roll_out(integration, secret, [s for s in kept if s.id not in new_ids])
        # Only after a repair (most rounds have none), so the timer loads it only then.
        from shared.devops_intake.reconcile import Reconciler

        missed = Reconciler(self._storage).reconcile(integration.id)
        actions.append(f"reconciled: queued {len(missed)} missed change(s)")
        return actions

    def check_all(self) -> dict[str, list[str]]:
        """``check`` every integration with subscriptions; one failing does not stop the rest."""
        results: dict[str, list[str]] = {}
        for integration in self._integrations.list_all():
            if not integration.subscriptions:
                continue
            try:
                results[integration.id] = self.check(integration.id)
            except (ApiError, ConfigurationError, InvalidInput, StorageUnavailable) as exc:
                log_event(
                    "subscriptions.check_failed",
                    logging.ERROR,
                    integration=integration.id,
                    error=type(exc).__name__,
                )
                self._record(integration, "subscription-check", str(exc), failed=exc)
                results[integration.id] = [f"check failed: {exc}"]
        return results

    # -- helpers --------------------------------------------------------------------------------

    def _roll_out(
        self, integration: Integration, secret: str, subscriptions: list[HookSubscription]
    ) -> None:
        """PUT each subscription back with the new secret; repairable ones come back enabled."""
        client = azure_devops_client(integration)
        for sub in subscriptions:
            current = client.get_subscription(sub.id)
            if current is None:
                continue  # the next check recreates it
            status = str(current.get("status", "enabled"))
            keep = status if status in ("enabled", "disabledByUser") else "enabled"
            wanted = desired_subscription(
                integration, secret, sub.project_id, keep, event_type=sub.event_type
            )
            body = {**current, **wanted}
            body["publisherInputs"] = {
                **(current.get("publisherInputs") or {}),
                **body["publisherInputs"],
            }
            client.replace_subscription(sub.id, body)

    def _record(
        self,
        integration: Integration,
        action: str,
        reason: str,
        failed: Exception | None = None,
    ) -> None:
        log_event("subscriptions." + action, integration=integration.id, reason=reason)
        self._audit.record(
            integration.id,
            AuditEntry(
                kind=KIND_UPKEEP,
                work_item_id=0,
                rev=0,
                outcome=FAILED if failed else APPLIED,
                action=action,
                reason=reason,
                error=type(failed).__name__ if failed else None,
            ),
        )
