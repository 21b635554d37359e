"""Process-wide API clients: one per Azure DevOps organization and per Sentry organization.

Clients are keyed by base URL and token, so a rotated token gets a fresh client and sessions
(and their connection pools and rate-limit pacing) are reused across invocations.
"""

from __future__ import annotations

import threading

from shared.azure_devops import AzureDevOpsClient
from shared.credentials import token_from_setting
from shared.registry import Integration, SentryOrg
from shared.sentry import SentryClient

_lock = threading.Lock()
_azure_devops: dict[tuple[str, str], AzureDevOpsClient] = {}
_sentry: dict[tuple[str, str], SentryClient] = {}


def azure_devops_client(integration: Integration) -> AzureDevOpsClient:
    pat = token_from_setting(integration.pat_setting)
    key = (integration.base_url, pat)
    with _lock:
        client = _azure_devops.get(key)
        if client is None:
            client = _azure_devops[key] = AzureDevOpsClient(integration.base_url, pat)
        return client


def sentry_client(org: SentryOrg) -> SentryClient:
    token = token_from_setting(org.token_setting)
    key = (org.base_url, token)
    with _lock:
        client = _sentry.get(key)
        if client is None:
            client = _sentry[key] = SentryClient(org.base_url, token)
        return client
