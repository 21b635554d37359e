"""The operator console (``Console``, ``/api/console/...``): server-rendered pages, every value
escaped by the templates (Jinja2 autoescape: titles, reasons and messages come from Sentry and
Azure DevOps and are treated as hostile). Pages: the overview, an integration, the audit, the
links, and the poison queues with replay and drop, each confirmed on a page of its own. Who
may see them: ``auth``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from shared.console import views
from shared.console.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    Principal,
    Refused,
    authenticate,
    check_post,
    new_csrf_token,
)
from shared.doors import Reply
from shared.errors import (
    IntegrationNotFound,
    IntegrationRemoved,
    InvalidInput,
    StorageUnavailable,
)
from shared.log import log_event
from shared.store.audit import APPLIED, FAILED, POISONED, SKIPPED
from shared.store.poison import QUEUES, PoisonQueue
from shared.store.storage import Storage, get_storage
from shared.validation import check_integration_id

BASE = "/api/console"
OUTCOMES = (APPLIED, SKIPPED, FAILED, POISONED)
MAX_FORM_BYTES = 8192
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class ConsoleRequest:
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names
    params: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(self.headers.get("cookie", ""))
        except CookieError:  # a malformed cookie header is no cookie
            return {}
        return {name: morsel.value for name, morsel in jar.items()}

    def form(self) -> dict[str, str]:
        if len(self.body) > MAX_FORM_BYTES:
            raise Refused(413, "The form is too large.")
        parsed = parse_qs(self.body.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {name: values[-1] for name, values in parsed.items()}


@lru_cache(maxsize=1)
def _templates() -> Any:
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


def handle(request: ConsoleRequest, storage: Storage | None = None) -> Reply:
    token = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    try:
        user = authenticate(request.headers)
        return _route(request, storage or get_storage(), user, token)
    except Refused as exc:
        log_event("console.refused", logging.WARNING, status=exc.status)
        return _page(exc.status, "refused.html", token, title="Not available", reason=exc.reason,
                     sign_in=exc.status == 401)  # fmt: skip
    except (IntegrationNotFound, IntegrationRemoved) as exc:
        return _page(404, "refused.html", token, title="Not found", reason=str(exc))
    except StorageUnavailable as exc:
        log_event("console.unavailable", logging.WARNING, error=type(exc).__name__)
        return _page(503, "refused.html", token, title="Storage unavailable", reason=str(exc))


def _route(request: ConsoleRequest, storage: Storage, user: Principal, token: str) -> Reply:
    path = request.path.strip("/")
    method = request.method.upper()
    common = {
        "user": user.name or user.object_id,
        "csrf": token,
        "flash": request.params.get("done"),
    }
    if method == "GET" and path == "":
        integrations, queues = views.overview(storage)
        return _page(200, "overview.html", token, title="Overview", integrations=integrations,
                     queues=queues, **common)  # fmt: skip
    if method == "GET" and path == "poison":
        queue = _queue(request.params.get("queue"))
        return _page(200, "poison.html", token, title="Poison messages", queue=queue,
                     kinds=QUEUES, messages=views.poison(storage, queue), **common)  # fmt: skip
    if method == "GET" and path == "integration":
        page = views.integration_page(
            storage, _integration_id(request), request.params.get("check") == "1"
        )
        return _page(200, "integration.html", token, title="Integration", page=page, **common)
    if method == "GET" and path == "audit":
        return _audit(request, storage, token, common)
    if method == "GET" and path == "links":
        integration_id = _integration_id(request)
        work_item = _number(request.params.get("work_item"), "work item")
        org, issue = request.params.get("org") or None, request.params.get("issue") or None
        if issue is not None:
            _number(issue, "Sentry issue")
        links = views.links_page(storage, integration_id, work_item, org, issue)
        return _page(200, "links.html", token, title="Links", links=links,
                     integration_id=integration_id, work_item=work_item, org=org, issue=issue,
                     searched=work_item is not None or bool(org and issue), **common)  # fmt: skip
    if method == "POST" and path in ("poison/confirm", "poison/do"):
        form = request.form()
        check_post(request.headers, request.cookies, form.get(CSRF_FIELD, ""))
        queue, action, message_id = _queue(form.get("queue")), form.get("do"), form.get("id", "")
        if action not in ("replay", "drop"):
            raise Refused(400, "Unknown action.")
        if path == "poison/confirm":
            what = f"message {message_id}" if message_id else "every message"
            if action == "replay" and not message_id:
                what = "every readable message"
            question = (
                f"Replay {what} of the {queue} poison queue onto its queue?"
                if action == "replay"
                else f"Delete {what} from the {queue} poison queue for good?"
            )
            return _page(200, "confirm.html", token, title="Confirm", question=question,
                         queue=queue, action=action, message_id=message_id, **common)  # fmt: skip
        return _act(storage, user, queue, action, message_id)
    raise Refused(404, "There is no such page.")


def _act(storage: Storage, user: Principal, queue: str, action: str, message_id: str) -> Reply:
    poison = PoisonQueue(storage, queue)
    ids = {message_id} if message_id else None
    outcome = poison.replay(ids) if action == "replay" else poison.drop(ids)
    log_event(
        "console.poison", action=action, queue=queue, done=len(outcome.done), user=user.object_id
    )
    verb = "Replayed" if action == "replay" else "Dropped"
    done = f"{verb} {len(outcome.done)} message(s)."
    if outcome.missing:
        done += " One was already gone."
    # After a POST, a redirect: reloading the page does not do it again.
    where = f"{BASE}/poison?{urlencode({'queue': queue, 'done': done})}"
    return Reply(303, "", {**_HEADERS, "Location": where}, mimetype="text/html")


def _audit(request: ConsoleRequest, storage: Storage, token: str, common: dict[str, Any]) -> Reply:
    integration_id = _integration_id(request)
    outcome = request.params.get("outcome") or None
    if outcome is not None and outcome not in OUTCOMES:
        raise Refused(400, "Unknown outcome.")
    until_text = request.params.get("until") or ""
    until = None
    if until_text:
        try:
            until = datetime.fromisoformat(until_text).replace(tzinfo=UTC)
        except ValueError:
            raise Refused(400, "The time is not a date and time.") from None
    issue = request.params.get("issue") or None
    if issue is not None:
        _number(issue, "Sentry issue")
    where = views.AuditFilter(_number(request.params.get("work_item"), "work item"), issue,
                              outcome, until)  # fmt: skip
    rows, cursor = views.audit_page(storage, integration_id, where, request.params.get("after", ""))
    next_page = None
    if cursor:
        query = {k: v for k, v in request.params.items() if k != "after" and v}
        next_page = f"{BASE}/audit?{urlencode({**query, 'after': cursor})}"
    return _page(200, "audit.html", token, title="Audit", rows=rows, where=where,
                 integration_id=integration_id, outcomes=OUTCOMES, until_text=until_text,
                 next_page=next_page, **common)  # fmt: skip


def _integration_id(request: ConsoleRequest) -> str:
    try:
        return check_integration_id(request.params.get("id") or "")
    except InvalidInput:
        raise Refused(400, "Name an integration (its collection id).") from None


def _number(value: str | None, what: str) -> int | None:
    if value in (None, ""):
        return None
    assert value is not None
    if not value.isascii() or not value.isdigit() or len(value) > 20:
        raise Refused(400, f"The {what} must be a number.")
    return int(value)


def _queue(value: str | None) -> str:
    if value in (None, ""):
        return QUEUES[0]
    if value not in QUEUES:
        raise Refused(400, "Unknown queue.")
    return value


def _page(status: int, template: str, token: str, **values: Any) -> Reply:
    html = _templates().get_template(template).render(base=BASE, **values)
    cookie = f"{CSRF_COOKIE}={token}; Path={BASE}; HttpOnly; Secure; SameSite=Strict"
    return Reply(status, html, {**_HEADERS, "Set-Cookie": cookie}, mimetype="text/html")
