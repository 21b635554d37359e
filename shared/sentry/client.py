"""Sentry REST client: one per Sentry organization host and token.

Reads and updates issues and finds members by email (paths in ``paths``). 429 waits honour
``Retry-After`` or ``X-Sentry-Rate-Limit-Reset``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests
from pydantic import ValidationError

from shared.http import ApiClient, ApiRejected, RetryPolicy
from shared.sentry import paths
from shared.sentry.shapes import ExternalIssue, Member, Note, SentryEvent, SentryIssue

MEMBER_CACHE_SECONDS = 600.0
MAX_ISSUES_PER_READ = 100
NOTES_PAGE = 100


@dataclass(frozen=True)
class RateLimit:
    """What Sentry's rate-limit headers said after a call (None: not sent)."""

    remaining: int | None = None
    reset_in: float | None = None  # seconds until the window resets


def rate_limit(response: requests.Response, now: float) -> RateLimit:
    """``X-Sentry-Rate-Limit-Remaining`` and ``-Reset`` (epoch seconds), as Sentry sends them
    on rate-limited endpoints (src/sentry/middleware/ratelimit.py)."""
    headers = response.headers
    try:
        remaining = int(headers["X-Sentry-Rate-Limit-Remaining"])
    except (KeyError, ValueError):
        remaining = None
    try:
        reset_in = max(0.0, float(headers["X-Sentry-Rate-Limit-Reset"]) - now)
    except (KeyError, ValueError):
        reset_in = None
    return RateLimit(remaining, reset_in)


class SentryClient(ApiClient):
    service = "sentry"

    def __init__(self, base_url: str, token: str, policy: RetryPolicy | None = None) -> None:
        super().__init__(
            base_url,
            {"Authorization": f"Bearer {token}", "Accept": "application/json"},
            policy,
        )
        self._members: dict[tuple[str, str], tuple[float, str | None]] = {}

    def throttle_wait(self, response: requests.Response) -> float | None:
        wait = super().throttle_wait(response)
        if wait is None and response.status_code == 429:
            reset = response.headers.get("X-Sentry-Rate-Limit-Reset")
            try:
                wait = max(0.0, float(reset) - time.time()) if reset else None
            except ValueError:
                wait = None
        return wait

    def get_issue(self, org: str, issue_id: str) -> SentryIssue:
        response = self.request("GET", paths.issue(org, issue_id), idempotent=True)
        try:
            return SentryIssue.model_validate_json(response.content)
        except ValidationError:
            raise ApiRejected(self.service, "unexpected answer to the issue request") from None

    def latest_event(self, org: str, issue_id: str) -> SentryEvent:
        """The issue's latest event ("Retrieve an Issue Event" with ``latest``)."""
        response = self.request("GET", paths.latest_event(org, issue_id), idempotent=True)
        try:
            return SentryEvent.model_validate_json(response.content)
        except ValidationError:
            raise ApiRejected(self.service, "unexpected answer to the event request") from None

    def issues_by_id(self, org: str, issue_ids: list[str]) -> tuple[list[SentryIssue], RateLimit]:
        """Up to ``MAX_ISSUES_PER_READ`` issues in one call; ids Sentry does not return are
        gone (deleted, merged away) or not visible to the token.

        ``GET /api/0/organizations/{org}/issues/?group=<id>&group=<id>...``: the organization
        issue index answers exactly the issues named by repeated ``group`` parameters,
        ignoring any search query (``OrganizationGroupIndexEndpoint.get``,
        src/sentry/issues/endpoints/organization_group_index.py: "If group ids specified,
        just ignore any query components"), limited to the projects asked for; ``project=-1``
        asks for every project the token can see."""
        if len(issue_ids) > MAX_ISSUES_PER_READ:
            raise ValueError(f"at most {MAX_ISSUES_PER_READ} issues per read")
        response = self.request(
            "GET",
            paths.issues(org),
            idempotent=True,
            params=[("project", "-1"), *(("group", issue_id) for issue_id in issue_ids)],
        )
        try:
            found = [SentryIssue.model_validate(item) for item in response.json()]
        except (ValueError, TypeError, ValidationError):
            raise ApiRejected(self.service, "unexpected answer to the issues request") from None
        return found, rate_limit(response, time.time())

    def update_issue(self, org: str, issue_id: str, changes: dict[str, Any]) -> None:
        # Setting a status or an assignee is idempotent, so a retry cannot do harm.
        self.request("PUT", paths.issue(org, issue_id), idempotent=True, json=changes)

    def member_user_id(self, org: str, email: str, *, cached: bool = True) -> str | None:
        """The user id of the organization member with this email, or None (cached, unless
        ``cached`` is False: the answer is then asked for)."""
        key = (org, email.lower())
        known = self._members.get(key)
        if cached and known is not None and known[0] > time.monotonic():
            return known[1]
        response = self.request(
            "GET",
            paths.members(org),
            idempotent=True,
            params={"query": f"email:{email}"},
        )
        try:
            members = [Member.model_validate(item) for item in response.json()]
        except (ValueError, TypeError, ValidationError):
            raise ApiRejected(self.service, "unexpected answer to the members request") from None
        # Pending invitations have no user yet; they cannot be assigned.
        user_id = next((m.user.id for m in members if m.user is not None), None)
        self._members[key] = (time.monotonic() + MEMBER_CACHE_SECONDS, user_id)
        return user_id

    def add_note(self, org: str, issue_id: str, text: str) -> str | None:
        """Add a note (comment) to an issue; returns its id, or None when Sentry says the same
        text was just posted by the same user (it refuses a repeat within an hour)."""
        try:
            response = self.request(
                "POST", paths.issue_comments(org, issue_id), idempotent=False, json={"text": text}
            )
        except ApiRejected as exc:
            if exc.status == 400 and "already posted" in (exc.remote_message or ""):
                return None
            raise
        try:
            return Note.model_validate_json(response.content).id
        except ValidationError:
            raise ApiRejected(self.service, "unexpected answer to the note request") from None

    def notes(self, org: str, issue_id: str) -> tuple[list[Note], bool]:
        """The issue's notes, newest first, one page of ``NOTES_PAGE``; and whether that is
        all of them. ``GET .../issues/{id}/comments/`` (GroupNotesEndpoint.get,
        src/sentry/issues/endpoints/group_notes.py: activities of type note, paged by date,
        newest first)."""
        response = self.request(
            "GET",
            paths.issue_comments(org, issue_id),
            idempotent=True,
            params={"per_page": NOTES_PAGE},
        )
        try:
            notes = [Note.model_validate(item) for item in response.json()]
        except (ValueError, TypeError, ValidationError):
            raise ApiRejected(self.service, "unexpected answer to the notes request") from None
        more = 'rel="next"; results="true"' in response.headers.get("Link", "")
        return notes, not more and len(notes) < NOTES_PAGE

    def register_external_issue(
        self, installation_uuid: str, issue_id: str, web_url: str, project: str, identifier: str
    ) -> str:
        """Show a link made outside Sentry's issue-link form in the issue's sidebar; creating
        the same link again updates it (safe to retry). Returns its id."""
        response = self.request(
            "POST",
            paths.external_issues(installation_uuid),
            idempotent=True,
            json={
                "issueId": int(issue_id),
                "webUrl": web_url,
                "project": project,
                "identifier": identifier,
            },
        )
        try:
            return ExternalIssue.model_validate_json(response.content).id
        except ValidationError:
            raise ApiRejected(
                self.service, "unexpected answer to the external issue request"
            ) from None

    def delete_external_issue(self, installation_uuid: str, external_issue_id: str) -> None:
        self.request(
            "DELETE", paths.external_issue(installation_uuid, external_issue_id), idempotent=True
        )

    # -- releases, their commits and deploys -------------------------------------------------------

    def create_release(
        self, org: str, version: str, projects: list[str], *, ref: str | None, url: str | None
    ) -> bool:
        """Create the release (True), or find it there already (Sentry answers 208: False).
        Safe to retry: a second create is that 208."""
        body: dict[str, Any] = {"version": version, "projects": projects}
        if ref:
            body["ref"] = ref
        if url:
            body["url"] = url
        response = self.request("POST", paths.releases(org), idempotent=True, json=body)
        return response.status_code == 201

    def set_release_commits(self, org: str, version: str, commits: list[dict[str, Any]]) -> None:
        """Replace the release's commits (Sentry answers 409 while it still processes earlier
        ones: the caller retries later)."""
        self.request("PUT", paths.release(org, version), idempotent=True, json={"commits": commits})

    def deploys(self, org: str, version: str) -> list[dict[str, Any]]:
        response = self.request("GET", paths.deploys(org, version), idempotent=True)
        try:
            value = response.json()
        except ValueError:
            raise ApiRejected(self.service, "unexpected answer to the deploys request") from None
        return [d for d in value if isinstance(d, dict)] if isinstance(value, list) else []

    def create_deploy(self, org: str, version: str, deploy: dict[str, Any]) -> None:
        # Not idempotent (a second POST is a second deploy): callers check ``deploys`` first.
        self.request("POST", paths.deploys(org, version), idempotent=False, json=deploy)
