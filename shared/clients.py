"""Process-wide API clients: one per organization, token and retry policy.

Clients are keyed by base URL and token, so a rotated token gets a fresh client, and sessions
(their connection pools and rate-limit pacing) are reused across invocations. Interactive
calls (search, answered while a person types) get a shorter retry budget than SyncStatus.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, TypeVar

from shared.azure_devops.paths import release_base_url, search_base_url
from shared.credentials import token_from_setting
from shared.errors import ConfigurationError
from shared.http import ApiError, RetryPolicy
from shared.log import log_event
from shared.store.records import Integration, SentryOrg

if TYPE_CHECKING:
    from shared.azure_devops.client import AzureDevOpsClient
    from shared.azure_devops.code_client import CodeClient
    from shared.azure_devops.identity import Identity
    from shared.sentry.client import SentryClient

BACKGROUND = RetryPolicy()
INTERACTIVE = RetryPolicy(attempts=2, budget_seconds=5.0, read_timeout=8.0)

ACCOUNT_SECONDS = 3600.0
# A failed read is remembered this long: repeated for every link of every message it would
# cost hundreds of calls while Azure DevOps is failing (or the PAT lacks the scope).
ACCOUNT_FAILURE_SECONDS = 60.0

_lock = threading.Lock()
_accounts: dict[str, tuple[float, str | None]] = {}
_account_failures: dict[str, tuple[float, Exception]] = {}
_account_reads: dict[str, threading.Lock] = {}  # one read at a time per integration
_azure_devops: dict[tuple[str, str, RetryPolicy, type], AzureDevOpsClient] = {}
C = TypeVar("C", bound="AzureDevOpsClient")
_sentry: dict[tuple[str, str], SentryClient] = {}


def _ado(base_url: str, pat_setting: str, policy: RetryPolicy, kind: type[C] | None = None) -> C:
    if kind is None:
        # Loaded on first use: SyncStatus needs it only when the done-states or the PAT's
        # account are not known yet, so its cold start does without it.
        from shared.azure_devops.client import AzureDevOpsClient

        kind = AzureDevOpsClient  # type: ignore[assignment]
    assert kind is not None
    pat = token_from_setting(pat_setting)
    key = (base_url, pat, policy, kind)
    with _lock:
        client = _azure_devops.get(key)
        if client is None:
            client = _azure_devops[key] = kind(base_url, pat, policy)
        return client  # type: ignore[return-value]


def azure_devops_client(
    integration: Integration, policy: RetryPolicy = BACKGROUND
) -> AzureDevOpsClient:
    return _ado(integration.base_url, integration.pat_setting, policy)


def azure_devops_code_client(integration: Integration, *, releases: bool = False) -> CodeClient:
    """Git and build calls on the organization's host; Classic Release calls
    (``releases=True``) on the release host."""
    from shared.azure_devops.code_client import CodeClient  # only ReleaseSync needs it

    base = release_base_url(integration.base_url) if releases else integration.base_url
    return _ado(base, integration.pat_setting, BACKGROUND, CodeClient)


def azure_devops_search_client(integration: Integration) -> AzureDevOpsClient:
    """The client for work item search, which lives on its own host."""
    base = integration.search_url or search_base_url(integration.base_url)
    return _ado(base, integration.pat_setting, INTERACTIVE)


def sentry_client(org: SentryOrg) -> SentryClient:
    token = token_from_setting(org.token_setting)
    key = (org.base_url, token)
    with _lock:
        client = _sentry.get(key)
        if client is None:
            from shared.sentry.client import SentryClient  # the timer, for one, never needs it

            client = _sentry[key] = SentryClient(org.base_url, token)
        return client


def devops_account(integration: Integration) -> str | None:
    """The account the integration's PAT acts as, read once an hour per process (one read at
    a time; a failure is remembered for ``ACCOUNT_FAILURE_SECONDS`` and raised again)."""
    key = integration.id
    known = _known_account(key)
    if known is not None:
        return known[0]
    with _lock:
        reading = _account_reads.setdefault(key, threading.Lock())
    with reading:
        known = _known_account(key)  # another thread may have read it meanwhile
        if known is not None:
            return known[0]
        try:
            account = azure_devops_client(integration).authenticated_account()
        except (ApiError, ConfigurationError) as exc:
            with _lock:
                _account_failures[key] = (time.monotonic() + ACCOUNT_FAILURE_SECONDS, exc)
            raise
        with _lock:
            _accounts[key] = (time.monotonic() + ACCOUNT_SECONDS, account)
            _account_failures.pop(key, None)
        return account


def made_by_app(integration: Integration, who: Identity | None) -> bool:
    """Whether a revision by ``who`` was made by this app (the PAT's account) moving the work
    item to Sentry's state or assignee. Only asked when a Sentry -> Azure DevOps direction is
    on (else the app makes no such revisions); if the account cannot be read, False: every
    write compares with Sentry first, so treating an echo as a change costs a read at most."""
    sync = integration.sync
    if not (sync.status_to_devops or sync.assignee_to_devops) or who is None:
        return False
    try:
        account = devops_account(integration)
    except (ApiError, ConfigurationError) as exc:
        log_event("sync.account_unreadable", logging.WARNING, error=type(exc).__name__)
        return False
    return bool(account and who.unique_name and who.unique_name.casefold() == account.casefold())


def _known_account(key: str) -> tuple[str | None] | None:
    """``(account,)`` when fresh; raises the remembered failure; None: read it."""
    now = time.monotonic()
    with _lock:
        hit = _accounts.get(key)
        failed = _account_failures.get(key)
    if hit is not None and hit[0] > now:
        return (hit[1],)
    if failed is not None and failed[0] > now:
        raise failed[1]
    return None
