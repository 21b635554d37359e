"""The one writer of ``sentry:<slug>`` rows (``integrations`` table): the Sentry organizations
an integration serves, each with its base URL, the app settings holding its token and its
internal integration's client secret, and the integration's installation uuid."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient

from shared.credentials import check_setting_name
from shared.errors import AlreadyExists, InvalidInput, NotFound, SyncError
from shared.store.integrations import Integrations, forget_integration
from shared.store.keys import issue_prefix, prefix_range, sentry_org_row
from shared.store.records import Integration, SentryOrg, sentry_org_from
from shared.store.storage import (
    INTEGRATIONS,
    LINKS,
    Storage,
    delete_rows,
    merge_unchanged,
    storage_errors,
)
from shared.validation import check_base_url, check_installation_uuid, check_slug

RETIRED_KEPT = 20  # uninstalled installations remembered per organization


class InstallationRetired(SyncError):
    """An installation that was uninstalled cannot be attached again."""


def _retired(entity: dict[str, Any]) -> list[str]:
    return str(entity.get("RetiredInstallations") or "").split()


class SentryOrgs:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(INTEGRATIONS)

    def add(
        self,
        integration_id: str,
        *,
        slug: str,
        base_url: str,
        token_setting: str,
        client_secret_setting: str | None = None,
        installation_uuid: str | None = None,
    ) -> SentryOrg:
        integration = Integrations(self._storage).get(integration_id)
        org = SentryOrg(
            slug=check_slug(slug),
            base_url=check_base_url(base_url, "the Sentry base URL"),
            token_setting=check_setting_name(token_setting),
            client_secret_setting=client_secret_setting
            and check_setting_name(client_secret_setting),
            installation_uuid=installation_uuid and check_installation_uuid(installation_uuid),
        )
        with storage_errors():
            try:
                self._table.create_entity(
                    {
                        "PartitionKey": integration.id,
                        "RowKey": sentry_org_row(org.slug),
                        "Slug": org.slug,
                        "BaseUrl": org.base_url,
                        "TokenSetting": org.token_setting,
                        "ClientSecretSetting": org.client_secret_setting or "",
                        "InstallationUuid": org.installation_uuid or "",
                        "Status": "active",
                    }
                )
            except ResourceExistsError:
                raise AlreadyExists(
                    f"Sentry organization {org.slug} is already part of integration "
                    f"{integration.id}"
                ) from None
        forget_integration(self._storage, integration.id)
        return org

    def update(
        self,
        integration_id: str,
        slug: str,
        *,
        base_url: str | None = None,
        token_setting: str | None = None,
        client_secret_setting: str | None = None,
        installation_uuid: str | None = None,
    ) -> SentryOrg:
        """Change an organization's settings; ``""`` clears the optional ones."""
        changes: dict[str, Any] = {}
        if base_url is not None:
            changes["BaseUrl"] = check_base_url(base_url, "the Sentry base URL")
        if token_setting is not None:
            changes["TokenSetting"] = check_setting_name(token_setting)
        if client_secret_setting is not None:
            changes["ClientSecretSetting"] = client_secret_setting and check_setting_name(
                client_secret_setting
            )
        if installation_uuid is not None:
            changes["InstallationUuid"] = installation_uuid and check_installation_uuid(
                installation_uuid
            )
        if not changes:
            raise InvalidInput("nothing to change: give at least one option")
        return self._change(integration_id, slug, changes)

    def record_installation(
        self, integration_id: str, slug: str, installation_uuid: str, app_uuid: str | None
    ) -> SentryOrg:
        """Sentry installed the integration (again): sync into the organization. ``app_uuid``
        is how Sentry names our app as the actor of changes we make.

        ``InstallationRetired`` for an installation that was uninstalled: Sentry gives every
        installation a new uuid, so that can only be a replayed delivery (Sentry signs the
        body alone, and the body carries no date). Decided on the row as read, written
        conditional on its ETag."""
        installation = check_installation_uuid(installation_uuid)

        def install(entity: dict[str, Any]) -> dict[str, Any]:
            if installation in _retired(entity):
                raise InstallationRetired(
                    f"installation {installation} was uninstalled; a replayed delivery"
                )
            changes = {"InstallationUuid": installation, "Status": "active"}
            if app_uuid:
                changes["AppUuid"] = check_installation_uuid(app_uuid)
            return changes

        return self._change(integration_id, slug, install)

    def uninstall(self, integration_id: str, slug: str) -> SentryOrg:
        """Sentry removed the integration: nothing is synced into the organization until it is
        installed again (its links stay, so a reinstall picks up where it stopped). Its
        installation is retired: never attached again."""

        def retire(entity: dict[str, Any]) -> dict[str, Any]:
            retired = _retired(entity)
            current = entity.get("InstallationUuid")
            if current and current not in retired:
                retired = [*retired, current][-RETIRED_KEPT:]
            return {"Status": "uninstalled", "RetiredInstallations": " ".join(retired)}

        return self._change(integration_id, slug, retire)

    def _change(
        self,
        integration_id: str,
        slug: str,
        changes: dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]],
    ) -> SentryOrg:
        integration = Integrations(self._storage).get(integration_id)
        key = sentry_org_row(check_slug(slug))
        with storage_errors():
            try:
                entity = self._table.get_entity(integration.id, key)
            except ResourceNotFoundError:
                raise NotFound(
                    f"integration {integration.id} has no Sentry organization {slug}"
                ) from None
            entity.update(changes(entity) if callable(changes) else changes)
            merge_unchanged(self._table, entity, "the Sentry organization")
        forget_integration(self._storage, integration.id)
        return sentry_org_from(entity)

    def remove(self, integration_id: str, slug: str) -> None:
        integration = Integrations(self._storage).get(integration_id, with_orgs=True)
        slug = check_slug(slug)
        if slug not in {org.slug for org in integration.sentry_orgs}:
            raise NotFound(f"integration {integration.id} has no Sentry organization {slug}")
        lo, hi = prefix_range(issue_prefix(slug))
        with storage_errors():
            in_use = sum(
                1
                for _ in self._storage.table(LINKS).query_entities(
                    "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                    parameters={"pk": integration.id, "lo": lo, "hi": hi},
                    select=["RowKey"],
                )
            )
            if in_use:
                raise InvalidInput(
                    f"Sentry organization {slug} still has {in_use} link(s); remove them first"
                )
            self._table.delete_entity(integration.id, sentry_org_row(slug))
        forget_integration(self._storage, integration.id)

    def delete_all(self, integration: Integration) -> None:
        """Every Sentry organization row of a removed integration."""
        with storage_errors():
            rows = [sentry_org_row(org.slug) for org in integration.sentry_orgs]
            delete_rows(self._table, integration.id, rows)
        forget_integration(self._storage, integration.id)
