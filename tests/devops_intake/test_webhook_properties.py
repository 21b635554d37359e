"""Property tests: no body, however malformed, makes the webhook answer 5xx while storage is up,
and a request without the right secret never queues anything."""

from __future__ import annotations

import copy
import json
from typing import Any

from conftest import DEFAULT_ORG, basic_auth, http_post, load_fixture, reply_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# Function-scoped fixtures are shared across examples on purpose: one integration, one queue.
_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

FIXTURE_NAMES = [
    "ojdev_workitem_updated_state_change_services.json",
    "sentry_work_item_updated.json",
    "msdocs_event_workitem_updated.json",
    "automatisch_workitem_created.json",
    "ojdev_workitem_commented_services.json",
]


def _paths(document: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path to a value inside ``document``."""
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


@st.composite
def mutated_fixtures(draw: st.DrawFn, collection_id: str) -> dict:
    payload = copy.deepcopy(load_fixture(draw(st.sampled_from(FIXTURE_NAMES))))
    payload["resourceContainers"]["collection"]["id"] = collection_id
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(payload)
        path = draw(st.sampled_from(paths))
        parent = payload
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return payload


def test_arbitrary_json_bodies_never_give_5xx(app_env, register):
    integration = register()

    @_SETTINGS
    @given(body=json_values)
    def check(body: Any) -> None:
        response = http_post(json.dumps(body).encode(), basic_auth(integration.secret))
        assert response.status_code < 500, reply_json(response)
        assert set(reply_json(response)) & {"error", "status"}

    check()


def test_arbitrary_bytes_never_give_5xx(app_env, register):
    integration = register()

    @_SETTINGS
    @given(body=st.binary(max_size=200))
    def check(body: bytes) -> None:
        response = http_post(body, basic_auth(integration.secret))
        assert response.status_code < 500

    check()


def test_mutated_fixtures_never_give_5xx(app_env, register, stores):
    integration = register()
    for work_item in (5, 13, 31):
        stores.links.add(integration.id, work_item, DEFAULT_ORG, "77")

    @_SETTINGS
    @given(payload=mutated_fixtures(integration.id))
    def check(payload: dict) -> None:
        response = http_post(payload, basic_auth(integration.secret))
        assert response.status_code in (200, 202, 400, 404, 413), reply_json(response)

    check()


def test_unauthenticated_requests_never_enqueue(app_env, register, stores):
    integration = register()
    for work_item in (5, 13, 31):
        stores.links.add(integration.id, work_item, DEFAULT_ORG, "77")
    headers = st.sampled_from(
        [
            {},
            basic_auth("not-the-secret"),
            {"Shared-Secret": integration.secret[:-1]},
            {"Shared-Secret": ""},
            basic_auth(integration.secret.upper()),
        ]
    )

    @_SETTINGS
    @given(payload=mutated_fixtures(integration.id), headers=headers)
    def check(payload: dict, headers: dict) -> None:
        response = http_post(payload, headers)
        assert response.status_code in (400, 401, 404, 413)

    check()
    assert app_env.queued() == []
