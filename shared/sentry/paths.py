"""Every Sentry REST path we call, relative to the organization's Sentry base URL."""

from __future__ import annotations

from shared.http import segment


def issues(org: str) -> str:
    return f"api/0/organizations/{segment(org)}/issues/"


def issue(org: str, issue_id: str) -> str:
    return f"api/0/organizations/{segment(org)}/issues/{segment(issue_id)}/"


def latest_event(org: str, issue_id: str) -> str:
    return f"{issue(org, issue_id)}events/latest/"


def issue_web_url(base_url: str, org: str, issue_id: str) -> str:
    """Where people open an issue in Sentry (not an API path)."""
    return f"{base_url.rstrip('/')}/organizations/{segment(org)}/issues/{segment(issue_id)}/"


def issue_comments(org: str, issue_id: str) -> str:
    return f"{issue(org, issue_id)}comments/"


def members(org: str) -> str:
    return f"api/0/organizations/{segment(org)}/members/"


def external_issues(installation_uuid: str) -> str:
    return f"api/0/sentry-app-installations/{segment(installation_uuid)}/external-issues/"


def external_issue(installation_uuid: str, external_issue_id: str) -> str:
    return f"{external_issues(installation_uuid)}{segment(external_issue_id)}/"


def releases(org: str) -> str:
    return f"api/0/organizations/{segment(org)}/releases/"


def release(org: str, version: str) -> str:
    return f"{releases(org)}{segment(version)}/"


def deploys(org: str, version: str) -> str:
    return f"{release(org, version)}deploys/"
