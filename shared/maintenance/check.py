"""``integration check``: what the PAT and each Sentry token can actually do, found at set-up
instead of in the poison queue.

Each check is a read that needs the same scope as the feature it stands for; a refusal (401
from Azure DevOps for a scope the PAT lacks, 403 from Sentry) names the scope to add. Writes
cannot be checked without writing (neither service says what a token may do), so they are
listed as not checked, with the scope they need. Nothing is written anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.clients import INTERACTIVE, azure_devops_client, sentry_client
from shared.credentials import token_from_setting
from shared.errors import ConfigurationError
from shared.http import ApiAuthError, ApiError
from shared.store.integrations import Integrations
from shared.store.links import Links
from shared.store.records import Integration, SentryOrg
from shared.store.storage import Storage

OK, REFUSED, FAILED, SKIPPED, NOT_CHECKED = "ok", "refused", "failed", "skipped", "not checked"


@dataclass(frozen=True)
class Check:
    side: str  # "azure-devops" or the Sentry organization slug
    what: str
    scope: str
    needed_for: str
    result: str
    detail: str = ""

    def to_public(self) -> dict[str, Any]:
        shown = {
            "side": self.side,
            "what": self.what,
            "scope": self.scope,
            "neededFor": self.needed_for,
            "result": self.result,
        }
        if self.detail:
            shown["detail"] = self.detail
        return shown


def _try(read: Callable[[], Any]) -> tuple[str, str]:
    try:
        read()
    except ApiAuthError as exc:
        return REFUSED, str(exc)
    except (ApiError, ConfigurationError) as exc:
        return FAILED, str(exc)
    return OK, ""


def check_integration(storage: Storage, integration_id: str) -> list[Check]:
    integration = Integrations(storage).get(integration_id, with_orgs=True)
    checks = _settings(integration)
    checks += _azure_devops(storage, integration)
    for org in integration.sentry_orgs:
        if not org.uninstalled:
            checks += _sentry(storage, integration, org)
    return checks


def _settings(integration: Integration) -> list[Check]:
    named = [("PAT", integration.pat_setting, "everything on the Azure DevOps side")]
    if integration.hook_key_setting:
        named.append(("function key", integration.hook_key_setting, "service hook deliveries"))
    for org in integration.sentry_orgs:
        named.append((f"{org.slug} token", org.token_setting, "everything in Sentry"))
        if org.client_secret_setting:
            named.append(
                (f"{org.slug} client secret", org.client_secret_setting, "Sentry's webhooks")
            )
    checks = []
    for label, name, needed_for in named:
        try:
            token_from_setting(name)
            result, detail = OK, ""
        except ConfigurationError as exc:
            # Not set here may be fine: the function app has its own settings.
            result = SKIPPED if name not in os.environ else FAILED
            detail = (
                str(exc)
                if name in os.environ
                else (f"{name} is not set here; the checks that need it are skipped")
            )
        checks.append(Check("settings", f"{label} ({name})", "", needed_for, result, detail))
    return checks


def _azure_devops(storage: Storage, integration: Integration) -> list[Check]:
    side = "azure-devops"
    try:
        token_from_setting(integration.pat_setting)
    except ConfigurationError:
        return []
    client = azure_devops_client(integration, INTERACTIVE)
    checks = []
    result, detail = _try(client.authenticated_account)
    checks.append(
        Check(side, "the PAT signs in", "a valid, unexpired PAT", "everything", result, detail)
    )
    if result != OK:
        return checks  # an expired or wrong PAT: every other check would say the same
    projects: list[Any] = []

    def read_projects() -> None:
        projects.extend(client.projects())

    result, detail = _try(read_projects)
    checks.append(
        Check(side, "list projects", "Project and Team (Read)", "the create form", result, detail)
    )
    link = Links(storage).first(integration.id)
    if link is not None:
        item = link.work_item_id
        result, detail = _try(lambda: client.work_item_title(item))
        what = f"read work item {item}"
    elif projects:
        result, detail = _try(lambda: client.work_item_types(projects[0].name))
        what = f"read the work item types of {projects[0].name}"
    else:
        result, detail, what = SKIPPED, "no link and no project to read", "read work items"
    checks.append(
        Check(side, what, "Work Items (Read)", "sync to Sentry, search, links", result, detail)
    )
    if integration.subscriptions:
        sub = integration.subscriptions[0]
        result, detail = _try(lambda: client.get_subscription(sub.id))
        checks.append(
            Check(
                side, f"read service hook subscription {sub.id}", "Work Items (Read)",
                "the timer's subscription repair", result, detail,
            )
        )  # fmt: skip
    checks.append(
        Check(
            side, "change work items and comments", "Work Items (Read & write)",
            "Sentry -> Azure DevOps sync, comments, the create form, alert rules",
            NOT_CHECKED, "Azure DevOps cannot be asked without writing",
        )
    )  # fmt: skip
    return checks


def _sentry(storage: Storage, integration: Integration, org: SentryOrg) -> list[Check]:
    try:
        token_from_setting(org.token_setting)
    except ConfigurationError:
        return []
    client = sentry_client(org)
    checks = []
    link = Links(storage).first(integration.id, org.slug)
    if link is not None:
        issue = link.issue_id
        result, detail = _try(lambda: client.issues_by_id(org.slug, [issue]))
        what = f"read issue {issue}"
    else:
        result, detail, what = SKIPPED, "no linked issue to read", "read issues"
    checks.append(
        Check(org.slug, what, "event:read", "the sweep, sync to Azure DevOps", result, detail)
    )
    result, detail = _try(
        lambda: client.member_user_id(org.slug, "integration-check@invalid", cached=False)
    )
    checks.append(
        Check(org.slug, "look up members", "member:read", "assignees to Sentry", result, detail)
    )
    checks.append(
        Check(
            org.slug, "resolve, assign and comment on issues", "event:write",
            "Azure DevOps -> Sentry sync, comments", NOT_CHECKED,
            "Sentry cannot be asked without writing",
        )
    )  # fmt: skip
    return checks
