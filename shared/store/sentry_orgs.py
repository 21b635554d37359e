"""The one writer of ``sentry:<slug>`` rows (``integrations`` table): the Sentry organizations
an integration serves, each with its base URL and the app setting holding its token."""

from __future__ import annotations

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableClient

from shared.credentials import check_setting_name
from shared.errors import AlreadyExists, InvalidInput, NotFound
from shared.store.integrations import Integrations, forget_integration
from shared.store.keys import issue_prefix, prefix_range, sentry_org_row
from shared.store.records import Integration, SentryOrg
from shared.store.storage import INTEGRATIONS, LINKS, Storage, delete_rows, storage_errors
from shared.validation import check_base_url, check_slug


class SentryOrgs:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(INTEGRATIONS)

    def add(
        self, integration_id: str, *, slug: str, base_url: str, token_setting: str
    ) -> SentryOrg:
        integration = Integrations(self._storage).get(integration_id)
        org = SentryOrg(
            slug=check_slug(slug),
            base_url=check_base_url(base_url, "the Sentry base URL"),
            token_setting=check_setting_name(token_setting),
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
                    }
                )
            except ResourceExistsError:
                raise AlreadyExists(
                    f"Sentry organization {org.slug} is already part of integration "
                    f"{integration.id}"
                ) from None
        forget_integration(self._storage, integration.id)
        return org

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
