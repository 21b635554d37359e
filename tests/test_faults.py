"""Fault injection: storage restarts, Sentry outages, Azure DevOps throttling, write races."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from conftest import ROOT, basic_auth, load_fixture, wait_for
from fakes import FakeAzureDevOps, FakeSentry
from loopback import LoopbackRouter
from world import World

import SyncStatus  # noqa: F401 - imported so the queue function is loaded as in the host
from devhost.azurite import start_azurite
from shared.doors import RetryLater
from shared.messages.sync import SyncMessage
from shared.store.poison import PoisonQueue


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def _state_change(collection_id: str, work_item: int) -> dict:
    payload = load_fixture("ojdev_workitem_updated_state_change_services.json")
    payload["resourceContainers"]["collection"]["id"] = collection_id
    payload["resource"]["workItemId"] = work_item
    payload["notificationId"] = work_item
    payload["resource"]["fields"]["System.State"] = {"oldValue": "Active", "newValue": "Closed"}
    return payload


def test_storage_restart_mid_burst_loses_nothing_and_applies_once(tmp_path, monkeypatch):
    """Azurite stops in the middle of a burst and comes back: the webhook answers 503 with
    Retry-After meanwhile, and every delivery answered 2xx reaches Sentry exactly once."""
    blob, queue, table = _free_ports(3)
    ports = {"Blob": blob, "Queue": queue, "Table": table}
    data = tmp_path / "azurite"
    storage = start_azurite(ROOT, location=data, ports=ports)
    router = LoopbackRouter()
    host = None
    try:
        monkeypatch.setenv("AzureWebJobsStorage", storage.connection_string)
        monkeypatch.setenv("SYNC_QUEUE_NAME", "faults-sync")
        monkeypatch.setenv("TABLE_PREFIX", "faults")
        monkeypatch.setenv("ADO_PAT", "fault-pat")
        monkeypatch.setenv("SENTRY_TOKEN", "fault-token")
        from fakes import Stores

        from shared.store.storage import get_storage

        stores = Stores(get_storage())
        integration, secret = stores.integrations.add(
            "1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b",
            name="Faults",
            base_url=f"{router.url}contoso/",
            pat_setting="ADO_PAT",
        )
        stores.sentry_orgs.add(
            integration.id, slug="acme", base_url=router.url, token_setting="SENTRY_TOKEN"
        )
        FakeAzureDevOps(router, "fault-pat", base_url=f"{router.url}contoso/")
        sentry = FakeSentry(router, router.url, "acme", "fault-token")
        work_items = list(range(1, 41))
        for work_item in work_items:
            sentry.add_issue(str(work_item))
            stores.links.add(integration.id, work_item, "acme", str(work_item))

        host = subprocess.Popen(
            [sys.executable, "-m", "devhost", "--port", "0"],
            cwd=ROOT,
            env={
                **os.environ,
                "AzureFunctionsJobHost__extensions__queues__visibilityTimeout": "00:00:01",
                "AzureFunctionsJobHost__extensions__queues__maxPollingInterval": "00:00:00.500",
                "PYTHONUNBUFFERED": "1",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        url_found = threading.Event()
        output: list[str] = []
        url: list[str] = []

        def read() -> None:
            assert host.stdout is not None
            for line in host.stdout:
                output.append(line)
                match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
                if match:
                    url.append(match[1])
                    url_found.set()

        threading.Thread(target=read, daemon=True).start()
        assert url_found.wait(60), "".join(output)
        webhook = f"{url[0]}/api/workitems/webhook"

        unavailable: list[str] = []
        acknowledged: dict[int, int] = {}

        def deliver(work_item: int) -> None:
            # Azure DevOps resends a delivery answered 503 (here: quickly and without limit).
            while True:
                response = requests.post(
                    webhook, json=_state_change(integration.id, work_item),
                    headers=basic_auth(secret), timeout=30,
                )  # fmt: skip
                if response.status_code == 503:
                    unavailable.append(response.headers.get("Retry-After", ""))
                    time.sleep(0.3)
                    continue
                acknowledged[work_item] = response.status_code
                return

        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [pool.submit(deliver, w) for w in work_items[:10]]
            for future in futures:
                future.result()
            storage.stop()  # storage goes away in the middle of the burst
            futures = [pool.submit(deliver, w) for w in work_items[10:]]
            wait_for(lambda: len(unavailable) >= 4, timeout=30)
            storage = start_azurite(ROOT, location=data, ports=ports)
            for future in futures:
                future.result()

        assert unavailable and all(value.isdigit() for value in unavailable)
        assert set(acknowledged.values()) == {202}
        if not wait_for(lambda: len(sentry.writes) >= len(work_items), timeout=90):
            done = {int(c.path.rstrip("/").rsplit("/", 1)[-1]) for c in sentry.writes}
            log = "".join(line for line in output if "link_done" not in line)
            pytest.fail(f"not applied: {sorted(set(work_items) - done)}; host log:\n{log[-4000:]}")
        time.sleep(2)  # anything still to come would be a repeat
        written = sorted(int(c.path.rstrip("/").rsplit("/", 1)[-1]) for c in sentry.writes)
        assert written == work_items  # each exactly once
    finally:
        if host is not None:
            host.terminate()
            host.wait(30)
        router.close()
        storage.stop()


@pytest.fixture
def world(app_env, register, stores, rsps, waits):
    return World(app_env, register, stores, rsps)


def test_sentry_down_past_the_budget_poisons_then_replay_applies_each_once(world):
    issues = {5: "501", 6: "601", 7: "701"}
    for work_item, issue in issues.items():
        world.link(work_item, world.acme, issue)
    world.acme.failures.extend([(503, {})] * 1000)  # down for good
    messages = [world.message(work_item=w) for w in issues]
    for attempt in range(1, 6):
        for message in messages:
            if attempt < 5:
                with pytest.raises(RetryLater):
                    world.run(message, dequeue_count=attempt)
            else:
                world.run(message, dequeue_count=attempt)  # parked in poison
    poison = PoisonQueue(world.env.storage())
    assert len(poison.peek()) == 3
    assert world.acme.writes == []

    world.acme.failures.clear()  # Sentry is back
    assert len(poison.replay().done) == 3
    for queued in world.env.queued():
        world.run(SyncMessage.model_validate(queued))
    written = sorted(c.path for c in world.acme.writes)
    assert written == sorted(f"/api/0/organizations/acme/issues/{i}/" for i in issues.values())
    assert all(world.acme.issues[i]["status"] == "resolved" for i in issues.values())


def test_azure_devops_429_on_states_is_waited_out_not_guessed(world, waits):
    world.link(5, world.acme, "101")
    world.ado.failures.append((429, {"Retry-After": "12"}))
    world.run(world.message())
    assert waits == [12.0]
    assert [c.method for c in world.acme.calls] == ["GET", "PUT"]

    # Asked to wait longer than the budget (for another type's states): the message fails and
    # Sentry is not touched.
    world.link(6, world.acme, "102")
    world.ado.failures.extend([(429, {"Retry-After": "900"})] * 3)
    with pytest.raises(RetryLater):
        world.run(world.message(work_item=6, work_item_type="Task"))
    assert world.acme.issues["102"]["status"] == "unresolved"
    assert world.audit(6)[0]["reason"].startswith("could not read the done-states: ")


def test_two_runs_of_the_same_change_at_once_apply_it_once(world):
    world.link(5, world.acme, "101")
    message = world.message()
    first_claimed = threading.Event()
    second_done = threading.Event()
    original = world.acme._issue

    def slow_issue(request):  # the first run holds its claim while the second one starts
        if request.method == "GET" and not first_claimed.is_set():
            first_claimed.set()
            second_done.wait(10)
        return original(request)

    world.acme._issue = slow_issue
    errors: list[Exception] = []

    def first() -> None:
        try:
            world.run(message)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_claimed.wait(10)
    with pytest.raises(RetryLater):
        world.run(message)  # the second run finds the link claimed
    second_done.set()
    thread.join(10)
    assert errors == []
    assert [c.body for c in world.acme.writes] == [{"status": "resolved"}]
    world.run(message, dequeue_count=2)  # the second run's retry changes nothing
    assert len(world.acme.writes) == 1
    assert world.audit(5)[0]["reason"] == "revision already applied"
