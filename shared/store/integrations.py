"""The one writer of ``integration`` rows (``integrations`` table): an Azure DevOps
organization, its webhook secret hashes, subscriptions, done-states and options; a tombstone
once removed. Reads come with a short in-process cache for callers that accept one.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.credentials import check_setting_name, hash_secret, new_webhook_secret
from shared.errors import AlreadyExists, IntegrationNotFound, IntegrationRemoved, InvalidInput
from shared.store.keys import INTEGRATION_ROW, SENTRY_ORG_PREFIX
from shared.store.records import (
    DoneStateMapping,
    FieldMap,
    HookSubscription,
    Integration,
    done_states_from,
    field_maps_from,
    integration_from,
    resolve_states_from,
    sentry_org_from,
)
from shared.store.storage import INTEGRATIONS, Storage, merge_unchanged, storage_errors
from shared.store.sync_settings import (
    REGRESSION_POLICIES,
    SYNC_SETTINGS,
    ResolveStates,
    SyncOptions,
)
from shared.validation import (
    check_base_url,
    check_integration_id,
    check_resolution,
    is_private_host,
)

# How stale a cached integration row may be where callers accept one (``max_age``).
INTEGRATION_MAX_AGE = 30.0
# One row per integration, so that listing them is one RowKey range, not a table scan.
INDEX_PARTITION = "~integrations"

_clock = time.monotonic
_recent: dict[tuple[int, str, bool], tuple[float, Any]] = {}


def _now() -> datetime:
    return datetime.now(UTC)


def forget_cached_integrations() -> None:
    """Drop integration rows read recently (tests; nothing else needs to)."""
    _recent.clear()


def forget_integration(storage: Storage, integration_id: str) -> None:
    """After a write in this process, no caller should get the old copy."""
    for with_orgs in (False, True):
        _recent.pop((id(storage), integration_id, with_orgs), None)


class Integrations:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(INTEGRATIONS)

    def add(
        self,
        integration_id: str,
        *,
        name: str,
        base_url: str,
        pat_setting: str,
        resolution: str = "resolved",
    ) -> tuple[Integration, str]:
        """Register an Azure DevOps organization; returns it and its first webhook secret."""
        integration_id = check_integration_id(integration_id)
        secret = new_webhook_secret()
        entity = {
            "PartitionKey": integration_id,
            "RowKey": INTEGRATION_ROW,
            "Name": (name or "").strip()[:200],
            "BaseUrl": check_base_url(base_url, "the Azure DevOps base URL"),
            "PatSetting": check_setting_name(pat_setting),
            "Resolution": check_resolution(resolution),
            "SecretHash": hash_secret(secret),
            "PreviousSecretHash": "",
            "Status": "active",
            "CreatedAt": _now(),
        }
        with storage_errors():
            self._table.upsert_entity({"PartitionKey": INDEX_PARTITION, "RowKey": integration_id})
            try:
                self._table.create_entity(entity)
            except ResourceExistsError:
                existing = self._table.get_entity(integration_id, INTEGRATION_ROW)
                if existing.get("Status") != "removed":
                    raise AlreadyExists(
                        f"integration {integration_id} is already registered"
                    ) from None
                # Re-registering a removed organization replaces its tombstone.
                self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=existing.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
        self._forget(integration_id)
        return integration_from(entity), secret

    def get(
        self, integration_id: str, *, with_orgs: bool = False, max_age: float = 0.0
    ) -> Integration:
        """The active integration; raises ``IntegrationNotFound`` or ``IntegrationRemoved``.

        With ``max_age`` a copy read at most that many seconds ago may be returned instead of
        reading storage again (only active integrations are kept).
        """
        integration_id = check_integration_id(integration_id)
        key = (id(self._storage), integration_id, with_orgs)
        if max_age > 0:
            entry = _recent.get(key)
            if entry is not None and _clock() - entry[0] <= max_age:
                return entry[1]
        try:
            integration = self._read_integration(integration_id, with_orgs=with_orgs)
        except IntegrationNotFound:
            _recent.pop(key, None)
            raise
        if integration.removed:
            _recent.pop(key, None)
            raise IntegrationRemoved(integration.id)
        if len(_recent) > 1000:
            _recent.clear()
        _recent[key] = (_clock(), integration)
        return integration

    def _forget(self, integration_id: str) -> None:
        forget_integration(self._storage, integration_id)

    def _read_integration(self, integration_id: str, *, with_orgs: bool) -> Integration:
        integration_id = check_integration_id(integration_id)
        with storage_errors():
            if not with_orgs:
                try:
                    entity = self._table.get_entity(integration_id, INTEGRATION_ROW)
                except ResourceNotFoundError:
                    raise IntegrationNotFound(integration_id) from None
                return integration_from(entity)
            # One RowKey range: the integration row, its repositories and Sentry organizations.
            rows = list(
                self._table.query_entities(
                    "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                    parameters={"pk": integration_id, "lo": INTEGRATION_ROW, "hi": "sentry;"},
                )
            )
        main = next((row for row in rows if row["RowKey"] == INTEGRATION_ROW), None)
        if main is None:
            raise IntegrationNotFound(integration_id)
        orgs = tuple(
            sorted(
                (
                    sentry_org_from(row)
                    for row in rows
                    if row["RowKey"].startswith(SENTRY_ORG_PREFIX)
                ),
                key=lambda org: org.slug,
            )
        )
        return integration_from(main, orgs)

    def list_all(self, *, include_removed: bool = False) -> list[Integration]:
        """Every integration with its Sentry organizations: the index partition (one RowKey
        range), then one range read each. An empty index (integrations registered before it
        existed) is built from one scan of the table."""
        with storage_errors():
            ids = [
                row["RowKey"]
                for row in self._table.query_entities(
                    "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                    parameters={"pk": INDEX_PARTITION, "lo": "", "hi": "~"},
                    select=["RowKey"],
                )
            ]
            if not ids:
                ids = self._build_index()
        integrations = []
        for integration_id in ids:
            try:  # with its Sentry organizations: one range read each
                integrations.append(self._read_integration(integration_id, with_orgs=True))
            except IntegrationNotFound:
                continue
        return sorted(
            (i for i in integrations if include_removed or not i.removed), key=lambda i: i.id
        )

    def _build_index(self) -> list[str]:
        """The index from the integration rows themselves (a scan: once, when it is empty)."""
        ids = sorted(
            row["PartitionKey"]
            for row in self._table.query_entities(
                "RowKey eq @rk", parameters={"rk": INTEGRATION_ROW}, select=["PartitionKey"]
            )
        )
        for integration_id in ids:
            self._table.upsert_entity({"PartitionKey": INDEX_PARTITION, "RowKey": integration_id})
        return ids

    def remove(self, integration_id: str) -> None:
        """Tombstone the integration (the webhook then answers 410) and drop its links.

        Running it again on a removed integration finishes a cleanup that was interrupted.
        """
        integration = self._read_integration(integration_id, with_orgs=True)
        with storage_errors():
            if not integration.removed:
                self._table.update_entity(
                    {
                        "PartitionKey": integration.id,
                        "RowKey": INTEGRATION_ROW,
                        "Status": "removed",
                        "RemovedAt": _now(),
                        "SecretHash": "",
                        "PreviousSecretHash": "",
                    },
                    mode=UpdateMode.MERGE,
                )
        # Imported here: both read integrations through this module.
        from shared.store.links import Links
        from shared.store.sentry_orgs import SentryOrgs

        Links(self._storage).delete_all(integration.id)
        SentryOrgs(self._storage).delete_all(integration)
        self._forget(integration.id)

    def rotate_secret(self, integration_id: str) -> str:
        """A new webhook secret; the current one stays valid as the previous secret."""
        secret = new_webhook_secret()
        self._update_integration(
            integration_id,
            lambda entity: {
                "SecretHash": hash_secret(secret),
                "PreviousSecretHash": entity.get("SecretHash", ""),
            },
        )
        return secret

    def finish_rotation(self, integration_id: str) -> None:
        """Stop accepting the previous webhook secret."""
        self._update_integration(integration_id, lambda entity: {"PreviousSecretHash": ""})

    def _update_integration(self, integration_id: str, change: Any) -> None:
        """Read-modify-write of the integration row, refused if someone wrote in between."""
        integration_id = check_integration_id(integration_id)
        with storage_errors():
            try:
                entity = self._table.get_entity(integration_id, INTEGRATION_ROW)
            except ResourceNotFoundError:
                raise IntegrationNotFound(integration_id) from None
            if entity.get("Status") == "removed":
                raise IntegrationRemoved(integration_id)
            entity.update(change(entity))
            merge_unchanged(self._table, entity, "the integration")
        self._forget(integration_id)

    def update(
        self,
        integration_id: str,
        *,
        name: str | None = None,
        base_url: str | None = None,
        pat_setting: str | None = None,
        resolution: str | None = None,
        search_url: str | None = None,
        sentry_app_secret_setting: str | None = None,
    ) -> Integration:
        """Change settings of an integration; ``""`` clears the optional ones."""
        changes: dict[str, Any] = {}
        if name is not None:
            changes["Name"] = name.strip()[:200]
        if base_url is not None:
            changes["BaseUrl"] = check_base_url(base_url, "the Azure DevOps base URL")
        if pat_setting is not None:
            changes["PatSetting"] = check_setting_name(pat_setting)
        if resolution is not None:
            changes["Resolution"] = check_resolution(resolution)
        if search_url is not None:
            changes["SearchUrl"] = search_url and check_base_url(search_url, "the search URL")
        if sentry_app_secret_setting is not None:
            changes["SentryAppSecretSetting"] = sentry_app_secret_setting and check_setting_name(
                sentry_app_secret_setting
            )
        if not changes:
            raise InvalidInput("nothing to change: give at least one option")
        self._update_integration(integration_id, lambda entity: changes)
        return self.get(integration_id, with_orgs=True)

    def set_hook(
        self, integration_id: str, url: str, key_setting: str | None, *, anonymous: bool = False
    ) -> Integration:
        """Where Azure DevOps should deliver: the WorkItemWebhook URL, without its key, and the
        app setting holding the function key (or ``anonymous``: the function takes none)."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            host = None
        local = host is not None and is_private_host(host)
        if (
            host is None
            or (parts.scheme != "https" and not (parts.scheme == "http" and local))
            or parts.query
            or parts.fragment
        ):
            raise InvalidInput(
                "the webhook URL must be https:// (http:// only for a host on a private "
                "network, such as http://127.0.0.1:7071 for make run) and without a query; "
                "give the function key as an app setting name with --key-setting"
            )
        if key_setting and anonymous:
            raise InvalidInput("give either --key-setting or --anonymous, not both")
        if not key_setting and not anonymous:
            raise InvalidInput(
                "WorkItemWebhook takes a function key (authLevel function): without one in its "
                "URL, Azure answers every delivery 401 and Azure DevOps puts the subscription "
                "on probation. Give --key-setting NAME, an app setting holding the key (az "
                "functionapp function keys list -g RG -n APP --function-name WorkItemWebhook), "
                "or --anonymous if you made the function anonymous (devhost, for make run, "
                "checks no function key)"
            )
        changes = {
            "HookUrl": url,
            "HookKeySetting": check_setting_name(key_setting) if key_setting else "",
            "HookAnonymous": anonymous,
        }
        self._update_integration(integration_id, lambda entity: changes)
        return self.get(integration_id)

    def set_subscriptions(self, integration_id: str, subscriptions: list[HookSubscription]) -> None:
        text = json.dumps([sub.to_public() for sub in subscriptions])
        self._update_integration(integration_id, lambda entity: {"Subscriptions": text})

    def set_sync(self, integration_id: str, changes: dict[str, bool]) -> Integration:
        """Turn sync settings on or off (names from ``SYNC_SETTINGS``)."""
        unknown = sorted(set(changes) - set(SYNC_SETTINGS))
        if unknown:
            raise InvalidInput(f"unknown sync setting(s): {', '.join(unknown)}")
        if not changes:
            raise InvalidInput("nothing to change: give at least one setting")

        def change(entity: dict[str, Any]) -> dict[str, Any]:
            current = SyncOptions.from_json(entity.get("SyncOptions")).stored()
            return {"SyncOptions": json.dumps({**current, **changes})}

        self._update_integration(integration_id, change)
        return self.get(integration_id)

    def set_regression(self, integration_id: str, policy: str | None) -> Integration:
        """What a regression does to a done work item (None: the default)."""
        if policy is not None and policy not in REGRESSION_POLICIES:
            raise InvalidInput(f"regression must be one of {', '.join(REGRESSION_POLICIES)}")

        def change(entity: dict[str, Any]) -> dict[str, Any]:
            current = SyncOptions.from_json(entity.get("SyncOptions")).stored()
            current.pop("regression", None)
            if policy:
                current["regression"] = policy
            return {"SyncOptions": json.dumps(current)}

        self._update_integration(integration_id, change)
        return self.get(integration_id)

    def set_resolve_states(
        self,
        integration_id: str,
        project: str,
        work_item_type: str,
        on_resolve: str | None,
        on_unresolve: str | None,
        on_regression: str | None = None,
    ) -> Integration:
        """The states a Sentry resolve / unresolve moves a project's type into, and its
        regression policy (none of them: clear)."""
        project, work_item_type = project.strip(), work_item_type.strip()
        if not project or not work_item_type:
            raise InvalidInput("give a project (name, id or *) and a work item type (or *)")
        resolve = (on_resolve or "").strip() or None
        unresolve = (on_unresolve or "").strip() or None
        regression = (on_regression or "").strip() or None
        if regression is not None and regression not in REGRESSION_POLICIES:
            raise InvalidInput(f"regression must be one of {', '.join(REGRESSION_POLICIES)}")

        def change(entity: dict[str, Any]) -> dict[str, Any]:
            kept = [
                m
                for m in resolve_states_from(entity.get("ResolveStates"))
                if (m.project.casefold(), m.work_item_type.casefold())
                != (project.casefold(), work_item_type.casefold())
            ]
            if resolve or unresolve or regression:
                kept.append(ResolveStates(project, work_item_type, resolve, unresolve, regression))
            return {"ResolveStates": json.dumps([m.to_public() for m in kept])}

        self._update_integration(integration_id, change)
        return self.get(integration_id)

    def set_field_map(
        self, integration_id: str, mapping: FieldMap, *, remove: bool = False
    ) -> Integration:
        """Add or replace (or ``remove``) the map of one field for a project and type."""

        def change(entity: dict[str, Any]) -> dict[str, Any]:
            key = (mapping.project.casefold(), mapping.work_item_type.casefold(), mapping.field)
            kept = [
                m
                for m in field_maps_from(entity.get("FieldMaps"))
                if (m.project.casefold(), m.work_item_type.casefold(), m.field) != key
            ]
            if not remove:
                kept.append(mapping)
            return {"FieldMaps": json.dumps([m.to_public() for m in kept])}

        self._update_integration(integration_id, change)
        return self.get(integration_id)

    def set_done_states(
        self, integration_id: str, project: str, work_item_type: str, states: list[str]
    ) -> Integration:
        """Configure (or, with no states, clear) the done-states of a project and type."""
        project, work_item_type = project.strip(), work_item_type.strip()
        if not project or not work_item_type:
            raise InvalidInput("give a project (name, id or *) and a work item type (or *)")
        cleaned = tuple(dict.fromkeys(s.strip() for s in states if s.strip()))

        def change(entity: dict[str, Any]) -> dict[str, Any]:
            kept = [
                m
                for m in done_states_from(entity.get("DoneStates"))
                if (m.project.casefold(), m.work_item_type.casefold())
                != (project.casefold(), work_item_type.casefold())
            ]
            if cleaned:
                kept.append(DoneStateMapping(project, work_item_type, cleaned))
            return {"DoneStates": json.dumps([m.to_public() for m in kept])}

        self._update_integration(integration_id, change)
        return self.get(integration_id)

