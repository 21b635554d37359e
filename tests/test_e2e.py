"""End to end through the local host (``python -m devhost`` in its own process): HTTP in,
the queue, SyncStatus, and Azure DevOps and Sentry faked by real servers on 127.0.0.1."""

from __future__ import annotations

import io
import itertools
import json
import random
import threading
from collections.abc import Iterator

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from conftest import basic_auth, load_fixture, wait_for
from fakes import FakeAzureDevOps, FakeSearch, FakeSentry
from local_host import LocalHost
from local_host import local_host as start_local_host
from loopback import LoopbackRouter

from shared.cli import main as cli


@pytest.fixture
def router() -> Iterator[LoopbackRouter]:
    server = LoopbackRouter()
    yield server
    server.close()


@pytest.fixture
def world(app_env, register, router):
    from fakes import Stores

    integration = register(
        base_url=f"{router.url}contoso/", orgs=("acme",), sentry_base_url=router.url
    )
    stores = Stores(app_env.storage())
    ado = FakeAzureDevOps(router, integration.pat, base_url=f"{router.url}contoso/")
    search = FakeSearch(router, integration.pat, base_url=f"{router.url}contoso/")
    sentry = FakeSentry(router, router.url, "acme", integration.tokens["acme"])
    return integration, stores, ado, search, sentry


@pytest.fixture(params=[1])
def local_host(request, app_env, world) -> Iterator[LocalHost]:
    with start_local_host(app_env.secrets, workers=request.param) as host:
        yield host


def _state_change(collection_id: str, old: str, new: str, rev: int = 2) -> dict:
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    payload["resourceContainers"]["collection"]["id"] = collection_id
    payload["resource"]["rev"] = rev
    payload["notificationId"] = rev
    payload["resource"]["fields"]["System.State"] = {"oldValue": old, "newValue": new}
    return payload


def test_fixture_posted_reaches_sentry_exactly_once(app_env, world, local_host):
    integration, stores, ado, _, sentry = world
    sentry.add_issue("101")
    stores.links.add(integration.id, 13, "acme", "101")

    payload = _state_change(integration.id, "Active", "Closed")
    response = requests.post(
        f"{local_host.url}/api/workitems/webhook",
        json=payload,
        headers=basic_auth(integration.secret),
        timeout=10,
    )
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "queued", "workItemId": 13, "rev": 2}

    assert wait_for(lambda: sentry.writes, timeout=30)
    # A redelivery is queued again and changes nothing (SyncStatus applies each revision once).
    again = requests.post(
        f"{local_host.url}/api/workitems/webhook",
        json=payload,
        headers=basic_auth(integration.secret),
        timeout=10,
    )
    assert again.status_code == 202
    assert wait_for(lambda: not app_env.queued(), timeout=10)
    assert [(c.method, c.path, c.body) for c in sentry.calls] == [
        ("GET", "/api/0/organizations/acme/issues/101/", None),
        ("PUT", "/api/0/organizations/acme/issues/101/", {"status": "resolved"}),
    ]
    assert len(ado.calls) == 1  # the states of Bug, read once
    assert sentry.issues["101"]["status"] == "resolved"


def test_sentry_failing_goes_to_poison_and_replay_applies_once(app_env, world, local_host):
    integration, stores, _, _, sentry = world
    sentry.add_issue("101")
    stores.links.add(integration.id, 13, "acme", "101")
    sentry.failures.extend([(403, {})] * 100)  # the token lost its scope

    payload = _state_change(integration.id, "Active", "Closed")
    response = requests.post(
        f"{local_host.url}/api/workitems/webhook",
        json=payload,
        headers=basic_auth(integration.secret),
        timeout=10,
    )
    assert response.status_code == 202

    def poisoned() -> list:
        out = io.StringIO()
        cli.main(["poison", "list"], out=out, err=io.StringIO())
        return json.loads(out.getvalue())

    parked = wait_for(poisoned, timeout=60)
    assert [m["message"]["workItemId"] for m in parked] == [13]
    assert len([c for c in sentry.calls if c.method == "GET"]) == 5  # maxDequeueCount attempts
    assert sentry.writes == []

    sentry.failures.clear()  # the token is fixed
    assert cli.main(["poison", "replay", "--yes"], out=io.StringIO(), err=io.StringIO()) == 0
    assert wait_for(lambda: sentry.writes, timeout=30)
    assert wait_for(lambda: not app_env.queued(), timeout=10)
    assert [c.body for c in sentry.writes] == [{"status": "resolved"}]
    assert poisoned() == []


def test_search_through_http(world, local_host):
    integration, *_ = world
    response = requests.get(
        f"{local_host.url}/api/search/{integration.id}", params={"query": "rest api"}, timeout=10
    )
    assert response.status_code == 200
    assert response.json() == [{"label": "(2) Rest Api User Story", "value": "2"}]

    missing = requests.get(f"{local_host.url}/api/search/{integration.id}", timeout=10)
    assert missing.status_code == 400
    assert missing.json() == {"error": "query is required (the text or id to search for)"}


def test_routes_and_methods(local_host):
    assert requests.get(f"{local_host.url}/api/workitems/webhook", timeout=10).status_code == 405
    assert requests.get(f"{local_host.url}/api/nothing-here", timeout=10).status_code == 404
    bad = requests.post(f"{local_host.url}/api/workitems/webhook", data=b"[1]", timeout=10)
    assert (bad.status_code, bad.json()) == (400, {"error": "body must be a JSON object"})


@pytest.mark.parametrize("local_host", [2], indirect=True)
def test_two_worker_processes_share_the_port_and_apply_each_change_once(app_env, world, local_host):
    assert "(2 worker process(es))" in "".join(local_host.output)
    integration, stores, _, _, sentry = world
    for work_item in range(1, 21):
        sentry.add_issue(str(work_item))
        stores.links.add(integration.id, work_item, "acme", str(work_item))
    session = requests.Session()
    for work_item in range(1, 21):
        payload = _state_change(integration.id, "Active", "Closed")
        payload["resource"]["workItemId"] = work_item
        payload["notificationId"] = work_item
        for _ in range(2):  # each delivered twice
            response = session.post(
                f"{local_host.url}/api/workitems/webhook",
                json=payload,
                headers=basic_auth(integration.secret),
                timeout=10,
            )
            assert response.status_code in (200, 202)
    assert wait_for(lambda: len(sentry.writes) >= 20, timeout=60)
    assert wait_for(lambda: not app_env.queued(), timeout=10)
    written = sorted(int(c.path.rstrip("/").rsplit("/", 1)[-1]) for c in sentry.writes)
    assert written == list(range(1, 21))


# -- stress: two worker processes over shuffled, duplicated histories --------------------------

BUG_STATES = ("New", "Active", "Resolved", "Closed")
DONE = {"Resolved", "Closed"}


def _in_order_status(states: list[str], initial: str) -> str:
    """What in-order processing ends in (the plain rules: into done resolves, out reopens)."""
    status = initial
    for old, new in itertools.pairwise(states):
        if old != new and (new in DONE) != (old in DONE):
            status = "resolved" if new in DONE else "unresolved"
    return status


@pytest.mark.parametrize("local_host", [2], indirect=True)
@pytest.mark.parametrize("seed", [7, 2026])
def test_stress_two_workers_end_every_issue_in_the_in_order_state(app_env, world, local_host, seed):
    """Bounded: 24 work items, 6 revisions each, every delivery shuffled across all items,
    a third delivered twice through the webhook and a third queued twice behind its back,
    posted by 8 clients at once. Every issue must end where in-order processing ends."""
    from azure.storage.queue import QueueClient, TextBase64EncodePolicy

    integration, stores, _, _, sentry = world
    rng = random.Random(seed)
    histories: dict[int, list[str]] = {}
    expected: dict[int, str] = {}
    deliveries: list[dict] = []
    for work_item in range(1, 25):
        states = [rng.choice(BUG_STATES) for _ in range(7)]
        initial = rng.choice(["unresolved", "resolved"])
        histories[work_item] = states
        expected[work_item] = _in_order_status(states, initial)
        sentry.add_issue(str(work_item), status=initial)
        stores.links.add(integration.id, work_item, "acme", str(work_item))
        for rev in range(1, 7):
            if states[rev - 1] == states[rev]:
                continue
            payload = _state_change(integration.id, states[rev - 1], states[rev], rev=rev)
            payload["resource"]["workItemId"] = work_item
            payload["notificationId"] = work_item * 100 + rev
            deliveries.append(payload)
    deliveries += rng.sample(deliveries, len(deliveries) // 3)
    rng.shuffle(deliveries)

    queue = QueueClient.from_connection_string(
        app_env.connection_string,
        app_env.queue_name,
        message_encode_policy=TextBase64EncodePolicy(),
    )
    errors: list[str] = []

    def post(chunk: list[dict]) -> None:
        session = requests.Session()
        for payload in chunk:
            response = session.post(
                f"{local_host.url}/api/workitems/webhook",
                json=payload,
                headers=basic_auth(integration.secret),
                timeout=30,
            )
            if response.status_code not in (200, 202):
                errors.append(f"{response.status_code} {response.text}")
            elif response.status_code == 202 and rng.random() < 0.33:
                # The same message again, behind the webhook's duplicate check.
                queue.send_message(json.dumps(_queued_message(integration.id, payload)))

    threads = [threading.Thread(target=post, args=(deliveries[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert wait_for(
        lambda: queue.get_queue_properties().approximate_message_count == 0, timeout=240
    ), "the sync queue did not drain"
    final = {wi: sentry.issues[str(wi)]["status"] for wi in histories}
    wrong = {wi: (final[wi], expected[wi], histories[wi]) for wi in final if final[wi] != expected[wi]}
    assert wrong == {}
    poison = QueueClient.from_connection_string(
        app_env.connection_string, app_env.queue_name + "-poison"
    )
    try:
        assert poison.get_queue_properties().approximate_message_count == 0
    except ResourceNotFoundError:
        pass  # never created: nothing was poisoned
    for link in stores.links.list_all(integration.id):
        assert link.pending == frozenset(), link


def _queued_message(integration_id: str, payload: dict) -> dict:
    fields = payload["resource"]["fields"]["System.State"]
    return {
        "v": 1,
        "integrationId": integration_id,
        "workItemId": payload["resource"]["workItemId"],
        "rev": payload["resource"]["rev"],
        "projectId": payload["resourceContainers"]["project"]["id"],
        "projectName": "Virtual.Currency",
        "workItemType": "Bug",
        "state": {"old": fields["oldValue"], "new": fields["newValue"]},
    }
