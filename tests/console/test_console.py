"""Console.main() against a real Azurite: who may see it (Easy Auth's principal trusted only
when the platform says authentication is on), CSRF and same-origin on actions, hostile content
escaped, poison replay and drop behind a confirmation."""

from __future__ import annotations

import base64
import json
import re

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
