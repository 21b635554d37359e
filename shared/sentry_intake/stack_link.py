"""``stacktrace-link``: Sentry puts a link on every stack frame; a person's browser opens it,
unsigned, with ``installationId``, ``projectSlug``, ``filename`` and ``lineNo`` added (Sentry's
``stacktrace-link`` UI component). The answer is a redirect to the file and line in Azure
Repos, found through the code mappings of the tracked repositories (``release map``).

Unsigned means anyone may call it, so it reveals nothing a member of the Sentry organization
could not build: the installation uuid (known only inside the organization) must match, and
every other failure (unknown integration, organization or installation) gets the same plain
page. It redirects only to the integration's own Azure DevOps host, and escapes what it shows.
Azure Repos opens the repository's tracked branch (``release track --branch``), else its
default branch: the request does not say which release the event came from."""

from __future__ import annotations

import html
import logging
import threading
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from shared.azure_devops import paths
from shared.clients import azure_devops_code_client
from shared.doors import Reply
from shared.errors import IntegrationNotFound, IntegrationRemoved, InvalidInput
from shared.http import ApiError
from shared.log import log_event
from shared.releases.code_mappings import source_file
from shared.store.integrations import Integrations
from shared.store.records import Integration
from shared.store.repositories import Repositories, TrackedRepository
from shared.store.storage import Storage
from shared.validation import check_integration_id, check_slug

BRANCH_SECONDS = 600.0
_lock = threading.Lock()
_branches: dict[tuple[str, str], tuple[float, str]] = {}
_HEADERS = {
    "Content-Security-Policy": "default-src 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _page(status: int, title: str, text: str, headers: dict[str, str] | None = None) -> Reply:
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><h1>{html.escape(title)}</h1>"
        f"<p>{html.escape(text)}</p></html>"
    )
    return Reply(status, body, {**_HEADERS, **(headers or {})}, mimetype="text/html")


NOT_FOUND = ("Not found", "This link does not lead anywhere.")


def open_stack_link(
    storage: Storage, integration_id: str | None, slug: str | None, params: Mapping[str, str]
) -> Reply:
    try:
        integration = Integrations(storage).get(
            check_integration_id(integration_id or ""), with_orgs=True
        )
        org = integration.sentry_org(check_slug(slug or ""))
    except (InvalidInput, IntegrationNotFound, IntegrationRemoved):
        org = None
    installation = (params.get("installationId") or "").strip().lower()
    if org is None or org.uninstalled or not org.installation_uuid or (
        installation != org.installation_uuid
    ):
        log_event("stack_link.unknown", logging.WARNING)
        return _page(404, *NOT_FOUND)
    project, filename = params.get("projectSlug") or "", params.get("filename") or ""
    line = _line(params.get("lineNo"))
    repos = Repositories(storage).list(integration.id)
    found = source_file(repos, org.slug, project, filename)
    if found is None:
        return _page(
            404,
            "No code mapping",
            f"No code mapping of Sentry project {project[:100]} covers {filename[:300]}. "
            "Add one with the admin CLI (release map).",
        )
    try:
        branch = _branch(integration, found.repository)
    except ApiError as exc:
        log_event("stack_link.branch_unreadable", logging.WARNING, error=type(exc).__name__)
        return _page(503, "Azure DevOps did not answer", "Try again in a moment.")
    url = paths.repository_file_url(
        integration.base_url,
        found.repository.project,
        found.repository.name,
        found.path,
        branch,
        line,
    )
    # Only ever the integration's own Azure DevOps host.
    if urlsplit(url).netloc != urlsplit(integration.base_url).netloc:
        return _page(404, *NOT_FOUND)
    return _page(302, "Opening Azure Repos", url, {"Location": url})


def _line(value: str | None) -> int | None:
    try:
        line = int(value or "")
    except ValueError:
        return None
    return line if 1 <= line <= 10_000_000 else None


def _branch(integration: Integration, repo: TrackedRepository) -> str:
    """The tracked branch, else the repository's default branch (read, kept 10 minutes)."""
    if repo.branch:
        return repo.branch.removeprefix("refs/heads/")
    key = (integration.id, repo.repository_id)
    with _lock:
        known = _branches.get(key)
    if known is not None and known[0] > time.monotonic():
        return known[1]
    read = azure_devops_code_client(integration).repository(repo.project, repo.repository_id)
    branch = (read.default_branch or "refs/heads/main").removeprefix("refs/heads/")
    with _lock:
        _branches[key] = (time.monotonic() + BRANCH_SECONDS, branch)
    return branch
