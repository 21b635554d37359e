"""SentryComponents.main() against a real Azurite, Azure DevOps and Sentry faked: link an
existing work item, create one (once), the select fields' options, signatures and bad input.
Requests have the shape Sentry sends (tests/fixtures/sentryapp_ui_*.json)."""

from __future__ import annotations

import json
import threading
import uuid
from urllib.parse import urlencode

import azure.functions as func
import pytest
from conftest import DEFAULT_ORG, load_fixture, reply_json, sentry_signature
from fakes import ADO_BASE, FakeAzureDevOps, FakeSentry

import SentryComponents
from shared.issue_links.options import forget_cached_options

INSTALLATION = "7a485448-a9e2-4c85-8a3c-4f44175783c9"
ISSUE_URL = f"https://{DEFAULT_ORG}.sentry.example/organizations/{DEFAULT_ORG}/issues/4242/"



class Ui:
    def __init__(self, app_env, registered, stores, rsps) -> None:
        self.env, self.registered, self.stores = app_env, registered, stores
        self.secret = registered.client_secrets[DEFAULT_ORG]
        stores.sentry_orgs.update(registered.id, DEFAULT_ORG, installation_uuid=INSTALLATION)
        self.ado = FakeAzureDevOps(rsps, registered.pat)
        self.ado.work_items[31] = {"System.TeamProject": "Fabrikam", "System.Title": "Crash"}
        self.sentry = FakeSentry(
            rsps,
            f"https://{DEFAULT_ORG}.sentry.example/",
            DEFAULT_ORG,
            registered.tokens[DEFAULT_ORG],
        )
        self.sentry.add_issue("4242")
        forget_cached_options()

    def request(self, action: str, fields: dict | None = None, **change):
        body = {
            "fields": fields or {},
            "installationId": INSTALLATION,
            "issueId": "4242",
            "webUrl": ISSUE_URL,
            "project": {"slug": "backend", "id": "2"},
            "actor": {"type": "user", "id": "1", "name": "Meredith Heller"},
        }
        body.update(change)
        return body

    def post(self, action: str, body: dict | bytes, *, secret: str | None = None, **where):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        signature = sentry_signature(secret or self.secret, raw)
        return self._call("POST", action, raw, {}, signature, **where)

    def get(self, action: str, params: dict, *, secret: str | None = None, **where):
        signature = sentry_signature(secret or self.secret, b"")
        return self._call("GET", action, b"", params, signature, **where)

    def _call(
        self,
        method: str,
        action: str,
        body: bytes,
        params: dict,
        signature: str,
        integration: str | None = None,
        org: str = DEFAULT_ORG,
    ):
        component, _, action = action.rpartition("/")
        component = component or "issue-link"
        integration = integration or self.registered.id
        route = {
            "integrationId": integration,
            "org": org,
            "component": component,
            "action": action,
        }
        url = f"http://localhost:7071/api/sentry/{integration}/{org}/{component}/{action}"
        request = func.HttpRequest(
            method,
            url + ("?" + urlencode(params) if params else ""),
            headers={
                "Content-Type": "application/json",
                "Request-ID": uuid.uuid4().hex,
                "Sentry-App-Signature": signature,
            },
            params=params,
            route_params=route,
            body=body,
        )
        return SentryComponents.main(request)

    def links(self) -> list[tuple[int, str]]:
        return [
            (link.work_item_id, link.issue_id)
            for link in self.stores.links.list_all(self.registered.id)
        ]


@pytest.fixture
def ui(app_env, register, stores, rsps, waits):
    return Ui(app_env, register(), stores, rsps)


# -- link ----------------------------------------------------------------------------------------


def test_link_an_existing_work_item(ui):
    response = ui.post("link", ui.request("link", {"workItem": "31", "comment": "Same crash"}))
    assert response.status_code == 200, reply_json(response)
    assert reply_json(response) == {
        "webUrl": f"{ADO_BASE}Fabrikam/_workitems/edit/31",
        "project": "Fabrikam",
        "identifier": "31",
    }
    assert ui.links() == [(31, "4242")]
    assert ui.ado.relations[31] == [
        {"rel": "Hyperlink", "url": ISSUE_URL, "attributes": {"comment": "Sentry issue"}}
    ]
    (comment,) = ui.ado.comments[31].values()
    assert "<b>Meredith Heller</b>" in comment and "Same crash" in comment
    (registered,) = ui.sentry.external_issues.values()
    assert (registered["issueId"], registered["identifier"]) == (4242, "31")
    (link,) = ui.stores.links.for_issue(ui.registered.id, DEFAULT_ORG, "4242")
    assert link.external_issue_id in ui.sentry.external_issues


def test_linking_again_adds_nothing_twice(ui):
    for _ in range(2):
        assert ui.post("link", ui.request("link", {"workItem": 31})).status_code == 200
    assert ui.links() == [(31, "4242")]
    assert len(ui.ado.relations[31]) == 1  # the fake refuses a second identical relation
    assert len(ui.sentry.external_issues) == 1


def test_the_same_form_sent_twice_adds_its_comment_once(ui):
    """Sentry's UI retries a request that timed out: one form, one comment."""
    body = ui.request("link", {"workItem": "31", "comment": "Same crash"})
    for _ in range(2):
        assert ui.post("link", body).status_code == 200
    assert len(ui.ado.comments[31]) == 1
    # Another comment is another form: it is added.
    other = ui.request("link", {"workItem": "31", "comment": "Seen again"})
    assert ui.post("link", other).status_code == 200
    assert len(ui.ado.comments[31]) == 2


def test_a_slow_azure_devops_gets_a_clear_retryable_answer_within_the_deadline(ui, waits):
    """Calls out stop at the component deadline (below Sentry's 30 s): the person is told to
    try again, and the retry completes the link without doing anything twice."""
    read = ui.ado._work_item

    def slow(request):
        waits.advance(16)  # Azure DevOps takes 16 s to answer the read
        return read(request)

    ui.ado._work_item = slow
    body = ui.request("link", {"workItem": "31", "comment": "Same crash"})
    response = ui.post("link", body)
    assert response.status_code == 503
    assert "answering slowly" in reply_json(response)["message"]
    assert response.headers.get("Retry-After")
    assert [c.method for c in ui.ado.calls] == ["GET"]  # nothing started past the deadline
    ui.ado._work_item = read
    assert ui.post("link", body).status_code == 200
    assert len(ui.ado.comments[31]) == 1 and len(ui.ado.relations[31]) == 1
    assert ui.links() == [(31, "4242")]


def test_a_failed_registration_in_sentry_does_not_fail_the_link(ui):
    ui.sentry.failures.extend([(500, {})] * 4)
    assert ui.post("link", ui.request("link", {"workItem": 31})).status_code == 200
    assert ui.links() == [(31, "4242")]
    assert ui.sentry.external_issues == {}


def test_the_fixture_shape_of_a_link_request_is_read(ui):
    shape = load_fixture("sentryapp_ui_issue_link_create_request.json")
    shape.update({"installationId": INSTALLATION, "issueId": "4242", "fields": {"workItem": 31}})
    assert ui.post("link", shape).status_code == 200
    assert ui.links() == [(31, "4242")]
    assert 31 not in ui.ado.relations  # no webUrl in that shape: no link back


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "workItem is required"),
        ({"workItem": "abc"}, "workItem must be a work item id"),
        ({"workItem": "99"}, "workItem: work item 99 does not exist"),
        ({"workItem": 31, "comment": {"x": 1}}, "comment must be text"),
    ],
)
def test_bad_link_fields_are_400_naming_the_field(ui, fields, reason):
    response = ui.post("link", ui.request("link", fields))
    assert response.status_code == 400
    assert reason in reply_json(response)["message"]
    assert ui.links() == []


# -- create --------------------------------------------------------------------------------------


CREATE = {"project": "Fabrikam", "workItemType": "Bug", "title": "Crash in billing"}


def test_create_a_work_item_with_json_patch_and_link_it(ui):
    fields = {**CREATE, "areaPath": "Fabrikam\\Web", "tags": "sentry; billing", "assignee": "a@x.io"}
    response = ui.post("create", ui.request("create", fields))
    assert response.status_code == 200, reply_json(response)
    item_id = ui.ado.next_id
    assert reply_json(response) == {
        "webUrl": f"{ADO_BASE}Fabrikam/_workitems/edit/{item_id}",
        "project": "Fabrikam",
        "identifier": str(item_id),
    }
    (create,) = [c for c in ui.ado.calls if "$Bug" in c.path]
    ops = {op["path"]: op["value"] for op in create.body}
    assert ops["/fields/System.Title"] == "Crash in billing"
    assert ops["/fields/System.AreaPath"] == "Fabrikam\\Web"
    assert ops["/fields/System.Tags"] == "sentry; billing"
    assert ops["/fields/System.AssignedTo"] == "a@x.io"
    assert ISSUE_URL in ops["/fields/System.Description"]
    assert "billing.invoice in total" in ops["/fields/System.Description"]  # the culprit
    assert ops["/relations/-"]["url"] == ISSUE_URL
    assert ui.links() == [(item_id, "4242")]
    (registered,) = ui.sentry.external_issues.values()
    assert registered["identifier"] == str(item_id)


def test_defaults_come_from_the_sentry_issue_and_the_title_is_cut_to_255(ui):
    response = ui.post(
        "create", ui.request("create", {"project": "Fabrikam", "workItemType": "Task"})
    )
    assert response.status_code == 200
    fields = ui.ado.work_items[ui.ado.next_id]
    assert fields["System.Title"] == "ZeroDivisionError: division by zero"
    long = ui.post("create", ui.request("create", {**CREATE, "title": "x" * 300}))
    assert long.status_code == 200
    assert len(ui.ado.work_items[ui.ado.next_id]["System.Title"]) == 255


def test_the_same_form_sent_twice_creates_one_work_item(ui):
    first = ui.post("create", ui.request("create", CREATE))
    second = ui.post("create", ui.request("create", CREATE))
    assert (first.status_code, second.status_code) == (200, 200)
    assert reply_json(first) == reply_json(second)
    assert len([c for c in ui.ado.calls if "$Bug" in c.path]) == 1


def test_a_double_click_at_the_same_moment_creates_one_work_item(ui):
    """Two requests race: the intent row decides; the loser is told to wait (409) or gets
    the same work item, never a second one."""
    barrier, answers = threading.Barrier(2), []

    def send():
        barrier.wait()
        answers.append(ui.post("create", ui.request("create", CREATE)).status_code)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) in ([200, 200], [200, 409])
    assert len([c for c in ui.ado.calls if "$Bug" in c.path]) == 1


def test_a_create_not_recorded_is_found_and_linked_on_retry(ui, monkeypatch):
    """Azure DevOps created the item, then storage failed: the retry finds it (same title,
    Hyperlink to this issue) instead of creating a second one."""
    from shared.errors import StorageUnavailable
    from shared.store.creations import Creations

    with monkeypatch.context() as patched:
        patched.setattr(
            Creations, "done", lambda *a: (_ for _ in ()).throw(StorageUnavailable("down"))
        )
        failed = ui.post("create", ui.request("create", CREATE))
    assert failed.status_code == 503
    assert ui.links() == []
    retried = ui.post("create", ui.request("create", CREATE))
    assert retried.status_code == 200, reply_json(retried)
    assert len([c for c in ui.ado.calls if "$Bug" in c.path]) == 1
    assert ui.links() == [(ui.ado.next_id, "4242")]


@pytest.mark.parametrize(
    ("fields", "status", "reason"),
    [
        ({"workItemType": "Bug"}, 400, "project is required"),
        ({"project": "Fabrikam"}, 400, "workItemType is required"),
        ({**CREATE, "project": "Nope"}, 400, "project: Azure DevOps has no project 'Nope'"),
        ({**CREATE, "workItemType": "Epic"}, 400, "no work item type 'Epic'"),
        ({**CREATE, "project": ".."}, 400, "project is not a name"),
        ({**CREATE, "areaPath": "Elsewhere"}, 400, "Rule Error for field Area Path"),
        ({**CREATE, "title": ["x"]}, 400, "title must be text"),
    ],
)
def test_bad_create_fields_are_400_naming_the_field(ui, fields, status, reason):
    response = ui.post("create", ui.request("create", fields))
    assert response.status_code == status
    assert reason in reply_json(response)["message"]
    assert ui.links() == []
    # A refused create leaves no intent behind: the corrected form goes through.
    assert ui.post("create", ui.request("create", CREATE)).status_code == 200


def test_azure_devops_throttling_is_503_with_retry_after(ui):
    ui.ado.failures.extend([(429, {"Retry-After": "40"})] * 3)
    response = ui.post("create", ui.request("create", CREATE))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "40"
    assert "throttling" in reply_json(response)["message"]


def test_rejected_credentials_are_502_saying_so(ui):
    ui.ado.pat = "other"
    response = ui.post("link", ui.request("link", {"workItem": 31}))
    assert response.status_code == 502
    assert "check the PAT" in reply_json(response)["message"]


# -- select options ------------------------------------------------------------------------------


def test_select_options_come_from_azure_devops(ui):
    params = {"installationId": INSTALLATION, "projectSlug": "backend"}
    projects = ui.get("projects", params)
    assert reply_json(projects) == [{"label": "Fabrikam", "value": "Fabrikam"}]
    types = ui.get("types", {**params, "dependentData": json.dumps({"project": "Fabrikam"})})
    assert [o["value"] for o in reply_json(types)] == ["Bug", "Task", "User Story"]
    areas = ui.get("areas", {**params, "dependentData": json.dumps({"project": "Fabrikam"})})
    assert [o["value"] for o in reply_json(areas)] == ["Fabrikam", "Fabrikam\\Web", "Fabrikam\\API"]
    assert reply_json(ui.get("types", params)) == []  # no project chosen yet
    calls = len(ui.ado.calls)
    ui.get("projects", params)
    assert len(ui.ado.calls) == calls  # cached briefly


def test_work_item_select_searches(ui, rsps):
    from fakes import FakeSearch

    FakeSearch(rsps, ui.registered.pat)
    params = {"installationId": INSTALLATION, "query": "31"}
    options = reply_json(ui.get("work-items", params))
    assert options[0] == {"label": "(31) Crash", "value": "31"}
    assert reply_json(ui.get("work-items", {"installationId": INSTALLATION})) == []


# -- trust ---------------------------------------------------------------------------------------


def test_wrong_signature_or_installation_is_401_and_nothing_is_written(ui):
    body = ui.request("link", {"workItem": 31})
    assert ui.post("link", body, secret="wrong").status_code == 401
    other = ui.post("link", {**body, "installationId": str(uuid.uuid4())})
    assert other.status_code == 401
    assert "another installation" in reply_json(other)["message"]
    assert ui.get("projects", {"installationId": INSTALLATION}, secret="wrong").status_code == 401
    assert ui.links() == []
    assert ui.ado.calls == []


def test_unknown_ids_get_the_same_401_as_a_wrong_signature(ui):
    """The answer never tells which integrations and organizations exist."""
    body = ui.request("link", {"workItem": 31})
    forged = ui.post("link", body, secret="wrong")
    for where in ({"org": "nope"}, {"integration": str(uuid.uuid4())}, {"org": "Not A Slug"}):
        for secret in (None, "wrong"):
            response = ui.post("link", body, secret=secret, **where)
            assert (response.status_code, reply_json(response)) == (401, reply_json(forged))
            response = ui.get("projects", {"installationId": INSTALLATION}, secret=secret, **where)
            assert (response.status_code, reply_json(response)) == (401, reply_json(forged))
    assert ui.links() == [] and ui.ado.calls == []


@pytest.mark.parametrize(
    "web_url",
    [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>x</script>",
        'https://acme.sentry.io/issues/1/"><script>',
        "http://tracker.example/issues/1/",
    ],
)
def test_a_web_url_that_is_not_an_https_link_is_400_and_nothing_is_written(ui, web_url):
    response = ui.post("link", ui.request("link", {"workItem": "31"}, webUrl=web_url))
    assert response.status_code == 400
    assert "webUrl" in reply_json(response)["message"]
    assert ui.links() == [] and ui.ado.calls == []


@pytest.mark.parametrize("issue_id", ["501\u0000\u001b", "-1", "12 34", "abc"])
def test_a_malformed_issue_id_is_400(ui, issue_id):
    body = ui.request("link", {"workItem": "31"}, issueId=issue_id.encode().decode("unicode_escape"))
    response = ui.post("link", body)
    assert response.status_code == 400
    assert "issueId" in reply_json(response)["message"]
    assert ui.links() == [] and ui.ado.calls == []


@pytest.mark.parametrize(
    ("action", "params", "field"),
    [
        ("work-items", {"query": "x" * 2049}, "query"),
        ("projects", {"projectSlug": "p" * 2049}, "projectSlug"),
        ("types", {"dependentData": json.dumps({"project": "P" * 300})}, "project"),
        ("areas", {"dependentData": json.dumps({"project": ".."})}, "project"),
        ("types", {"dependentData": json.dumps({"project": "Gone"})}, "project"),
        ("areas", {"dependentData": json.dumps({"project": "Gone"})}, "project"),
    ],
)
def test_bad_select_parameters_are_400_naming_the_field(ui, action, params, field):
    response = ui.get(action, {"installationId": INSTALLATION, **params})
    assert response.status_code == 400, reply_json(response)
    assert field in reply_json(response)["message"]


def test_unknown_requests_and_malformed_bodies(ui):
    assert ui.post("delete", ui.request("delete")).status_code == 404
    assert ui.get("link", {"installationId": INSTALLATION}).status_code == 404
    response = ui.post("link", b"{not json")
    assert response.status_code == 400
    response = ui.post("link", {"fields": {}, "installationId": INSTALLATION})
    assert response.status_code == 400
    assert "issueId is missing" in reply_json(response)["message"]


def test_an_uninstalled_organization_is_refused(ui):
    ui.stores.sentry_orgs.uninstall(ui.registered.id, DEFAULT_ORG)
    response = ui.post("link", ui.request("link", {"workItem": 31}))
    assert response.status_code == 403
    assert ui.links() == []
