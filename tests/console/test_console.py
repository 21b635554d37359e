"""Console.main() against a real Azurite: who may see it (Easy Auth's principal trusted only
when the platform says authentication is on), CSRF and same-origin on actions, hostile content
escaped, poison replay and drop behind a confirmation."""

from __future__ import annotations

import base64
import html
import json
import re
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func
import pytest

import Console
from shared.console.auth import ALLOWED_SETTING, AUTH_ENABLED_SETTING, DEV_USER_SETTING

HOST = "sync-app.example"


def principal(name: str = "ana@contoso.com", oid: str = "11111111-2222-4333-8444-555555555555",
              groups: tuple[str, ...] = ()) -> str:  # fmt: skip
    """X-MS-CLIENT-PRINCIPAL as App Service builds it (Microsoft Learn, "Work with user
    identities in Azure App Service authentication"): base64 JSON of claims."""
    claims = [
        {"typ": "preferred_username", "val": name},
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": oid},
        *({"typ": "groups", "val": g} for g in groups),
    ]
    data = {"auth_typ": "aad", "claims": claims, "name_typ": "preferred_username"}
    return base64.b64encode(json.dumps(data).encode()).decode()


def call(method: str = "GET", path: str = "", *, headers: dict | None = None,
         params: dict | None = None, body: bytes = b"") -> func.HttpResponse:  # fmt: skip
    request = func.HttpRequest(
        method, f"https://{HOST}/api/console/{path}", headers={"Host": HOST, **(headers or {})},
        params=params or {}, route_params={"path": path}, body=body,
    )  # fmt: skip
    return Console.main(request)


@pytest.fixture
def signed_in(app_env, monkeypatch):
    monkeypatch.delenv(DEV_USER_SETTING, raising=False)
    monkeypatch.setenv(AUTH_ENABLED_SETTING, "True")
    monkeypatch.setenv(ALLOWED_SETTING, "ana@contoso.com, 99999999-0000-4000-8000-000000000000")
    return {"X-MS-CLIENT-PRINCIPAL": principal()}


def test_the_principal_header_is_not_trusted_while_authentication_is_off(app_env, monkeypatch):
    monkeypatch.delenv(DEV_USER_SETTING, raising=False)
    monkeypatch.delenv(AUTH_ENABLED_SETTING, raising=False)
    monkeypatch.setenv(ALLOWED_SETTING, "ana@contoso.com")
    response = call(headers={"X-MS-CLIENT-PRINCIPAL": principal()})
    assert response.status_code == 503
    assert "App Service Authentication is off" in response.get_body().decode()


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),  # not signed in
        ("not base64!", 401),
        (principal("eve@contoso.com", "00000000-0000-4000-8000-000000000000"), 403),
        (principal("eve@contoso.com", groups=("99999999-0000-4000-8000-000000000000",)), 200),
        (principal("ANA@contoso.com"), 200),
    ],
)
def test_only_allowed_users_and_groups_get_in(signed_in, header, status):
    response = call(headers={"X-MS-CLIENT-PRINCIPAL": header} if header else {})
    assert response.status_code == status
    # Easy Auth's own sign-in endpoint, for someone who is not signed in yet.
    sign_in = "/.auth/login/aad?post_login_redirect_uri=/api/console/"
    assert (sign_in in response.get_body().decode()) == (status == 401)


def test_the_overview_escapes_what_it_shows_and_sets_a_strict_policy(signed_in, register, stores):
    integration = register(orgs=("acme",))
    stores.integrations.update(integration.id, name='<script>alert("x")</script>')
    response = call(headers=signed_in)
    body = response.get_body().decode()
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "SameSite=Strict" in response.headers["Set-Cookie"]


def _csrf(response: func.HttpResponse) -> str:
    return re.search(r"console_csrf=([^;]+)", response.headers["Set-Cookie"])[1]


def test_an_action_needs_the_forms_token_and_this_origin(signed_in, app_env):
    app_env.storage().send_poison('{"v": 1}')
    token = _csrf(call(path="poison", headers=signed_in))
    form = f"csrf={token}&queue=sync&do=replay&id=".encode()
    cookie = {"Cookie": f"console_csrf={token}"}
    same = {"Origin": f"https://{HOST}"}
    for headers, status in (
        ({**signed_in, **same}, 403),  # no cookie
        ({**signed_in, **cookie}, 403),  # no origin
        ({**signed_in, **cookie, "Origin": "https://evil.example"}, 403),
        ({**signed_in, **cookie, **same}, 303),
    ):
        assert call("POST", "poison/do", headers=headers, body=form).status_code == status
    assert app_env.storage().poison_queue.peek_messages() == []


def test_poison_replay_and_drop_go_through_a_confirmation(signed_in, app_env):
    storage = app_env.storage()
    storage.send_poison('{"title": "<b>hostile</b>"}')
    page = call(path="poison", headers=signed_in)
    token = _csrf(page)
    body = page.get_body().decode()
    assert "&lt;b&gt;hostile&lt;/b&gt;" in body and "<b>hostile" not in body
    message_id = re.search(r'name="id" value="([^"]+)"', body.split("<tbody>")[1])[1]
    headers = {**signed_in, "Cookie": f"console_csrf={token}", "Origin": f"https://{HOST}"}
    form = f"csrf={token}&queue=sync&do=drop&id={message_id}".encode()
    confirm = call("POST", "poison/confirm", headers=headers, body=form)
    assert "Delete message" in confirm.get_body().decode()
    assert len(storage.poison_queue.peek_messages()) == 1  # nothing done before "Yes"
    done = call("POST", "poison/do", headers=headers, body=form)
    assert done.status_code == 303 and "Dropped+1" in done.headers["Location"]
    assert storage.poison_queue.peek_messages() == []


# -- integration, audit and links pages -------------------------------------------------------


def test_the_integration_page_shows_settings_and_checks_but_no_secret(signed_in, register, rsps,
                                                                       app_env):  # fmt: skip
    from fakes import FakeAzureDevOps, FakeSentry

    integration = register(orgs=("acme",))
    FakeAzureDevOps(rsps, integration.pat)
    FakeSentry(rsps, "https://acme.sentry.example/", "acme", integration.tokens["acme"])
    page = call(path="integration", headers=signed_in, params={"id": integration.id})
    body = page.get_body().decode()
    assert page.status_code == 200 and "status-to-sentry" in body and "Run the checks" in body
    checked = call(path="integration", headers=signed_in,
                   params={"id": integration.id, "check": "1"}).get_body().decode()  # fmt: skip
    assert "the PAT signs in" in checked and "not checked" in checked
    for secret in app_env.secrets:
        assert secret not in body and secret not in checked


def test_the_audit_page_filters_and_pages(signed_in, register, app_env):
    from shared.store.audit import AuditEntry, AuditLog

    integration = register(orgs=("acme",))
    log = AuditLog(app_env.storage())
    for n in range(60):
        log.record(integration.id, AuditEntry(work_item_id=7 if n % 2 else 8, rev=n,
                                              outcome="failed" if n == 59 else "applied",
                                              action="resolve", reason=f"<i>row {n}</i>",
                                              sentry_org="acme", issue_id="101"))  # fmt: skip
    first = call(path="audit", headers=signed_in, params={"id": integration.id})
    body = first.get_body().decode()
    assert body.count("<tr><td>") == 50 and "&lt;i&gt;row 59&lt;/i&gt;" in body
    older = html.unescape(re.search(r'href="([^"]+after=[^"]+)"', body)[1])
    params = dict(parse_qsl(urlsplit(older).query))
    second = call(path="audit", headers=signed_in, params=params).get_body().decode()
    assert second.count("<tr><td>") == 10 and "row 0<" in second.replace("&lt;/i&gt;", "<")
    failed = call(path="audit", headers=signed_in,
                  params={"id": integration.id, "outcome": "failed"}).get_body().decode()  # fmt: skip
    assert failed.count("<tr><td>") == 1
    seven = call(path="audit", headers=signed_in,
                 params={"id": integration.id, "work_item": "7"}).get_body().decode()  # fmt: skip
    assert seven.count("<tr><td>") == 30
    bad = call(path="audit", headers=signed_in, params={"id": integration.id, "work_item": "x"})
    assert bad.status_code == 400


def test_the_links_page_finds_from_either_side(signed_in, register, stores):
    integration = register(orgs=("acme",))
    stores.links.add(integration.id, 13, "acme", "101")
    by_item = call(path="links", headers=signed_in,
                   params={"id": integration.id, "work_item": "13"}).get_body().decode()  # fmt: skip
    assert "Work item 13" in by_item and "acme issue 101" in by_item
    assert "/_workitems/edit/13" in by_item and "/issues/101/" in by_item
    by_issue = call(path="links", headers=signed_in,
                    params={"id": integration.id, "org": "acme", "issue": "101"}).get_body().decode()  # fmt: skip
    assert "Work item 13" in by_issue
    unknown = call(path="links", headers=signed_in,
                   params={"id": "00000000-0000-4000-8000-000000000009", "work_item": "1"})
    assert unknown.status_code == 404


def test_the_overview_says_when_each_kind_of_change_last_came(signed_in, register, app_env):
    from shared.store.audit import KIND_SENTRY, AuditEntry, AuditLog

    integration = register(orgs=("acme",))
    AuditLog(app_env.storage()).record(integration.id, AuditEntry(
        work_item_id=7, rev=0, outcome="applied", action="state", reason="x", kind=KIND_SENTRY))  # fmt: skip
    body = call(headers=signed_in).get_body().decode()
    row = re.search(r"<td>Sentry events</td><td>([^<]+)</td>", body)[1]
    assert row.endswith("0 minute(s) ago")
    assert "<td>releases</td><td>none in 48 hours</td>" in body


def test_dropping_every_message_asks_first_then_empties_the_poison_queue(signed_in, app_env):
    storage = app_env.storage()
    for n in range(3):
        storage.send_poison(json.dumps({"n": n}))
    token = _csrf(call(path="poison", headers=signed_in))
    headers = {**signed_in, "Cookie": f"console_csrf={token}", "Origin": f"https://{HOST}"}
    form = f"csrf={token}&queue=sync&do=drop&id=".encode()
    confirm = call("POST", "poison/confirm", headers=headers, body=form).get_body().decode()
    assert "Delete every message from the sync poison queue for good?" in confirm
    assert len(storage.poison_queue.peek_messages(max_messages=32)) == 3
    done = call("POST", "poison/do", headers=headers, body=form)
    assert "Dropped+3" in done.headers["Location"]
    assert storage.poison_queue.peek_messages() == []
