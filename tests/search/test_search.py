"""SearchIssues.main() with a real Azurite and Azure DevOps (and its search host) faked."""

from __future__ import annotations

import hashlib
import hmac
import json

import azure.functions as func
import pytest
from fakes import FakeAzureDevOps, FakeSearch

import SearchIssues
from shared.azure_devops.paths import search_base_url
from shared.azure_devops.shapes import wiql_string


class Setup:
    def __init__(self, integration, rsps):
        self.integration = integration
        self.ado = FakeAzureDevOps(rsps, integration.pat)
        self.search = FakeSearch(rsps, integration.pat)
        self.ado.work_items.update(
            {
                2: {"System.Title": "Rest Api User Story"},
                123: {"System.Title": "Checkout fails with 500"},
                124: {"System.Title": "It's broken: \"quotes\" and 'apostrophes'"},
                125: {"System.Title": "Zahlung schlägt fehl – ünïcödé"},
            }
        )

    def get(self, integration_id: str | None = None, headers: dict | None = None, **params):
        request = func.HttpRequest(
            "GET",
            f"http://localhost:7071/api/search/{integration_id or self.integration.id}",
            headers=headers or {},
            params=params,
            route_params={"integrationId": integration_id or self.integration.id},
            body=b"",
        )
        response = SearchIssues.main(request)
        return response.status_code, json.loads(response.get_body()), response.headers


@pytest.fixture
def setup(app_env, register, rsps, waits):
    return Setup(register(), rsps)


def test_text_search_uses_the_search_host(setup):
    status, body, _ = setup.get(query="rest api")
    assert status == 200
    assert body == [{"label": "(2) Rest Api User Story", "value": "2"}]
    (call,) = setup.search.calls
    assert call.path == "/contoso/_apis/search/workitemsearchresults?api-version=7.1"
    assert call.body == {"searchText": "rest api", "$top": 50, "$skip": 0, "includeFacets": False}
    assert setup.ado.calls == []


@pytest.mark.parametrize("query", ["123", "#123", " # 123 "])
def test_an_id_is_looked_up_exactly_and_comes_first(setup, query):
    setup.search.answer["results"].insert(
        0, {"fields": {"system.id": "123", "system.title": "Checkout fails with 500"}}
    )
    status, body, _ = setup.get(query=query)
    assert status == 200
    assert body == [
        {"label": "(123) Checkout fails with 500", "value": "123"},
        {"label": "(2) Rest Api User Story", "value": "2"},
    ]
    assert setup.ado.calls[0].path.startswith("/contoso/_apis/wit/workitems/123?")
    assert setup.search.calls[0].body["searchText"] == "123"


def test_an_unknown_id_is_just_no_id_hit(setup):
    status, body, _ = setup.get(query="#999")
    assert status == 200
    assert body == [{"label": "(2) Rest Api User Story", "value": "2"}]


def test_project_filter_and_limit(setup):
    status, _, _ = setup.get(query="rest", project="MyFirstProject", limit="5")
    assert status == 200
    call = setup.search.calls[0]
    assert call.path.startswith("/contoso/MyFirstProject/_apis/search/workitemsearchresults")
    assert call.body["$top"] == 5


def test_results_are_cut_at_the_limit_without_duplicates(setup):
    setup.search.answer["results"] = [
        {"fields": {"system.id": str(n), "system.title": f"Item {n}"}} for n in (1, 2, 2, 3, 4)
    ]
    status, body, _ = setup.get(query="item", limit="3")
    assert status == 200
    assert [row["value"] for row in body] == ["1", "2", "3"]


@pytest.mark.parametrize("mode", ["missing", "not-ready"])
def test_falls_back_to_wiql_when_search_cannot_answer(setup, mode):
    setup.search.mode = mode
    status, body, _ = setup.get(query="checkout", project="Fabrikam")
    assert status == 200
    assert body == [{"label": "(123) Checkout fails with 500", "value": "123"}]
    wiql, batch = setup.ado.calls
    assert wiql.path.startswith("/contoso/Fabrikam/_apis/wit/wiql?")
    assert "%24top=50" in wiql.path or "$top=50" in wiql.path
    assert wiql.body["query"] == (
        "SELECT [System.Id] FROM WorkItems WHERE [System.Title] CONTAINS 'checkout' "
        "AND [System.TeamProject] = @project ORDER BY [System.ChangedDate] DESC"
    )
    assert batch.body == {
        "ids": [123],
        "fields": ["System.Id", "System.Title"],
        "errorPolicy": "omit",
    }


def test_wiql_text_is_escaped(setup):
    setup.search.mode = "missing"
    status, body, _ = setup.get(query="It's broken")
    assert status == 200
    assert [row["value"] for row in body] == ["124"]
    assert "CONTAINS 'It''s broken'" in setup.ado.calls[0].body["query"]
    assert wiql_string("a'b''c") == "'a''b''''c'"


def test_unicode_query(setup):
    setup.search.mode = "missing"
    status, body, _ = setup.get(query="  schlägt   fehl ")
    assert status == 200
    assert body == [{"label": "(125) Zahlung schlägt fehl – ünïcödé", "value": "125"}]


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "query is required"),
        ({"query": "   \t "}, "query is required"),
        ({"query": "x" * 300}, "longer than 256"),
        ({"query": "a", "limit": "0"}, "limit must be"),
        ({"query": "a", "limit": "201"}, "limit must be"),
        ({"query": "a", "limit": "ten"}, "limit must be"),
        ({"query": "a", "project": "a/b"}, "project must be"),
        # Unicode digits that int() would take.
        ({"query": "bug", "limit": "\u00b2"}, "limit must be"),
        ({"query": "bug", "limit": "\u00b3"}, "limit must be"),
        ({"query": "bug", "limit": "\u2460"}, "limit must be"),
        ({"query": "bug", "limit": "\u0661\u0662"}, "limit must be"),
        # Names that would leave the organization's path.
        ({"query": "bug", "project": ".."}, "project must be"),
        ({"query": "bug", "project": "."}, "project must be"),
        ({"query": "bug", "project": "a\x00b"}, "project must be"),
    ],
)
def test_bad_parameters_give_400(setup, params, reason):
    status, body, _ = setup.get(**params)
    assert status == 400
    assert reason in body["error"]
    assert setup.search.calls == [] and setup.ado.calls == []


@pytest.mark.parametrize("integration_id", ["6f1c2a9e-7d41-4c3b-9a55-0e8d2b6f4c11", "nope"])
def test_unknown_integration_gives_404(setup, integration_id):
    status, body, _ = setup.get(integration_id=integration_id, query="a")
    assert (status, body) == (404, {"error": "unknown integration"})


def test_removed_integration_gives_404(setup, stores):
    stores.integrations.remove(setup.integration.id)
    assert setup.get(query="a")[0] == 404


def test_rejected_credentials_give_502(setup):
    setup.search.failures.append((401, {}))
    status, body, _ = setup.get(query="rest")
    assert status == 502
    assert "credentials" in body["error"]
    assert setup.integration.pat not in json.dumps(body)


def test_throttling_gives_503_with_retry_after(setup):
    setup.search.failures.extend([(429, {"Retry-After": "120"})] * 3)
    status, body, headers = setup.get(query="rest")
    assert status == 503
    assert headers["Retry-After"] == "120"
    assert "throttl" in body["error"]


def test_timeout_gives_504(setup):
    setup.search.failures.extend([("timeout", {})] * 3)
    status, body, _ = setup.get(query="rest")
    assert status == 504
    assert "in time" in body["error"]


def test_server_error_gives_502_after_a_retry(setup, waits):
    setup.search.failures.extend([(500, {}), (503, {})])
    status, _, _ = setup.get(query="rest")
    assert status == 502
    assert len(setup.search.calls) == 2
    assert len(waits) == 1


def test_transient_error_recovers_within_the_budget(setup):
    setup.search.failures.append((503, {}))
    status, body, _ = setup.get(query="rest")
    assert status == 200
    assert body[0]["value"] == "2"


class TestSentrySignature:
    SECRET = "sentry-client-secret-value"

    @pytest.fixture
    def signed(self, setup, stores, monkeypatch, app_env):
        monkeypatch.setenv("SENTRY_APP_SECRET", self.SECRET)
        app_env.secrets.append(self.SECRET)
        stores.integrations.update(
            setup.integration.id, sentry_app_secret_setting="SENTRY_APP_SECRET"
        )
        return setup

    def test_valid_signature(self, signed):
        signature = hmac.new(self.SECRET.encode(), b"", hashlib.sha256).hexdigest()
        status, _, _ = signed.get(query="rest", headers={"Sentry-App-Signature": signature})
        assert status == 200

    @pytest.mark.parametrize("headers", [{}, {"Sentry-App-Signature": "0" * 64}])
    def test_missing_or_wrong_signature(self, signed, headers):
        status, body, _ = signed.get(query="rest", headers=headers)
        assert status == 401
        assert "Sentry-App-Signature" in body["error"]
        assert signed.search.calls == []


def test_search_url_override_for_azure_devops_server(app_env, register, stores, rsps, waits):
    integration = register(base_url="https://tfs.contoso.local/tfs/DefaultCollection/")
    stores.integrations.update(
        integration.id, search_url="https://search.contoso.local/tfs/DefaultCollection/"
    )
    search = FakeSearch(
        rsps, integration.pat, base_url="https://search.contoso.local/tfs/DefaultCollection/"
    )
    request = func.HttpRequest(
        "GET",
        "http://localhost/api/search/x",
        params={"query": "rest"},
        route_params={"integrationId": integration.id},
        body=b"",
    )
    response = SearchIssues.main(request)
    assert response.status_code == 200
    assert len(search.calls) == 1


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://dev.azure.com/contoso/", "https://almsearch.dev.azure.com/contoso/"),
        ("https://contoso.visualstudio.com/", "https://contoso.almsearch.visualstudio.com/"),
        (
            "https://tfs.contoso.local/tfs/DefaultCollection/",
            "https://tfs.contoso.local/tfs/DefaultCollection/",
        ),
    ],
)
def test_search_base_url(base, expected):
    assert search_base_url(base) == expected
