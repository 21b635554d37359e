"""Who is calling: the integration and Sentry organization a signed Sentry request names, and
the client secret its signature is checked with.

A request for ids we do not know, or for an organization whose secret we cannot read, gets
the same 401 as a request with a wrong signature, after the same HMAC work: the answer never
tells a caller which integrations and organizations exist. The reason goes to the log, for
the operator."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from shared.credentials import token_from_setting
from shared.errors import ConfigurationError, IntegrationNotFound, IntegrationRemoved, InvalidInput
from shared.log import log_event
from shared.store.integrations import INTEGRATION_MAX_AGE, Integrations
from shared.store.records import Integration, SentryOrg
from shared.store.storage import Storage
from shared.validation import check_integration_id, check_slug

# Checked against when there is no secret to check with, so that an unknown id costs what a
# wrong signature costs. Nothing can be signed with it: it is not a secret anyone holds.
_NOBODY = "no integration: this value signs nothing " + "0" * 32


@dataclass(frozen=True)
class Caller:
    integration: Integration | None
    org: SentryOrg | None
    secret: str

    @property
    def known(self) -> bool:
        return self.integration is not None and self.org is not None


def caller(
    storage: Storage,
    integration_id: str | None,
    slug: str | None,
    edge: str,
    max_age: float = INTEGRATION_MAX_AGE,
) -> Caller:
    """The integration and organization named, with their client secret; or an unknown
    caller (``known`` False) whose secret matches no signature. ``max_age``: how old a copy
    read earlier in this process may be (0: read it now)."""
    why = None
    try:
        integration = Integrations(storage).get(
            check_integration_id(integration_id or ""),
            with_orgs=True,
            max_age=max_age,
        )
        org = integration.sentry_org(check_slug(slug or ""))
        if org is None:
            why = "unknown Sentry organization"
        elif not org.client_secret_setting:
            why = "no client secret is configured for this organization (sentry-update)"
        else:
            return Caller(integration, org, token_from_setting(org.client_secret_setting))
    except (InvalidInput, IntegrationNotFound):
        why = "unknown integration"
    except IntegrationRemoved:
        why = "the integration was removed"
    except ConfigurationError as exc:
        why = str(exc)
    log_event(f"{edge}.unverifiable", logging.WARNING, reason=why)
    return Caller(None, None, _NOBODY)
