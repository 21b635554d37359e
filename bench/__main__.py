"""``make bench``: measure the app and print one table of figures.

1. Webhook CPU per event, warm, in one process, with storage replaced by an in-memory fake
   (this micro-benchmark only), against ``json.loads`` of the same bodies.
2. A burst of 1,000 deliveries at concurrency 16 through the local host and Azurite, with
   Azure DevOps and Sentry faked on 127.0.0.1: acknowledgements per second, latency, and the
   time until the last change has reached Sentry.
3. API economy of 1,000 state changes on 100 linked work items (one project and type):
   Azure DevOps calls, Sentry calls and table operations per event; duplicates and stale
   revisions.
4. Cold import of each function module in a fresh interpreter, against importing the
   third-party packages it pulls in alone.

Nothing here sends traffic beyond 127.0.0.1. Figures depend on the machine; tests never
assert them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from bench.memory_storage import MemoryStorage  # noqa: E402
from devhost.azurite import start_azurite  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "ojdev_workitem_updated_state_change_services.json"
COLLECTION = "0c2f7a51-6b7e-4d4a-8e3c-1f2a3b4c5d6e"
Row = tuple[str, str, str]


def _payload(work_item: int, rev: int, old: str, new: str, notification: int) -> dict[str, Any]:
    payload = json.loads(FIXTURE.read_text(encoding="utf-8"))
    payload["resourceContainers"]["collection"]["id"] = COLLECTION
    payload["notificationId"] = notification
    resource = payload["resource"]
    resource["workItemId"] = work_item
    resource["rev"] = rev
    resource["fields"]["System.State"] = {"oldValue": old, "newValue": new}
    resource["revision"]["rev"] = rev
    return payload


def _basic(secret: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"ado:{secret}".encode()).decode()}


def _median_ns(samples: list[int]) -> float:
    return statistics.median(samples)


# -- 1. webhook CPU per event ------------------------------------------------------------------


def bench_webhook_cpu(events: int) -> list[Row]:
    from shared.devops_intake.webhook import handle_delivery
    from shared.store.integrations import Integrations
    from shared.store.links import Links
    from shared.store.sentry_orgs import SentryOrgs

    storage = MemoryStorage()
    os.environ["BENCH_PAT"] = "bench-pat"
    _, secret = Integrations(storage).add(
        COLLECTION, name="Bench", base_url="https://dev.azure.com/contoso/", pat_setting="BENCH_PAT"
    )
    SentryOrgs(storage).add(
        COLLECTION, slug="acme", base_url="https://sentry.example/", token_setting="BENCH_TOKEN"
    )
    Links(storage).add(COLLECTION, 13, "acme", "1")
    headers = _basic(secret)
    rows: list[Row] = []
    large = "<div>" + "x" * 200_000 + "</div>"
    for offset, (label, description) in enumerate((("typical", None), ("large", large))):
        bodies = []
        for n in range(events + 100):
            first = offset * 1_000_000 + n  # every delivery new, so each one is queued
            payload = _payload(13, first + 2, "Active", "Closed", first + 1)
            if description:
                payload["resource"]["revision"]["fields"]["System.Description"] = description
            bodies.append(json.dumps(payload).encode())
        for body in bodies[:100]:  # warm-up
            handle_delivery(body, headers, storage)  # type: ignore[arg-type]
            json.loads(body)
        handler, parser = [], []
        for body in bodies[100:]:
            start = time.perf_counter_ns()
            reply = handle_delivery(body, headers, storage)  # type: ignore[arg-type]
            handler.append(time.perf_counter_ns() - start)
            assert reply.status == 202, reply.body
            start = time.perf_counter_ns()
            json.loads(body)
            parser.append(time.perf_counter_ns() - start)
        size = len(bodies[0]) / 1024
        webhook_us, loads_us = _median_ns(handler) / 1000, _median_ns(parser) / 1000
        rows.append(
            (
                f"1. webhook CPU/event, {label} ({size:.0f} KiB)",
                f"{webhook_us:.0f} µs (json.loads {loads_us:.0f} µs): {webhook_us / loads_us:.2f}×",
                "≤ 4× json.loads",
            )
        )
    return rows


# -- 2. burst through the local host -----------------------------------------------------------


def bench_burst(
    deliveries: int, concurrency: int, sync: bool = True, workers: int = 1
) -> list[Row]:
    """The burst; with ``sync=False`` SyncStatus is switched off, to see the webhook alone;
    ``workers`` is the host's FUNCTIONS_WORKER_PROCESS_COUNT."""
    import requests
    from fakes import FakeAzureDevOps, FakeSentry
    from loopback import LoopbackRouter

    azurite = start_azurite(ROOT)
    router = LoopbackRouter()
    suffix = uuid.uuid4().hex[:8]
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "SYNC_QUEUE_NAME": f"bench-{suffix}",
        "TABLE_PREFIX": f"b{suffix}",
        "BENCH_PAT": "bench-pat",
        "BENCH_TOKEN": "bench-token",
    }
    os.environ.update(env)
    from shared.store.integrations import Integrations
    from shared.store.links import Links
    from shared.store.sentry_orgs import SentryOrgs
    from shared.store.storage import get_storage

    storage = get_storage()
    _, secret = Integrations(storage).add(
        COLLECTION, name="Bench", base_url=f"{router.url}contoso/", pat_setting="BENCH_PAT"
    )
    SentryOrgs(storage).add(
        COLLECTION, slug="acme", base_url=router.url, token_setting="BENCH_TOKEN"
    )
    FakeAzureDevOps(router, "bench-pat", base_url=f"{router.url}contoso/")
    sentry = FakeSentry(router, router.url, "acme", "bench-token")
    linked = list(range(1, 101))
    for work_item in linked:
        sentry.add_issue(str(work_item))
        Links(storage).add(COLLECTION, work_item, "acme", str(work_item))

    # 100 work items x 5 revisions that each cross done/not-done (ending in Closed),
    # 350 changes of unlinked work items, and 150 redeliveries.
    moves = [("Active", "Closed"), ("Closed", "Active")]
    bodies = []
    notification = 0
    for work_item in linked:
        for rev in range(2, 7):
            notification += 1
            old, new = moves[rev % 2 == 1]
            bodies.append(_payload(work_item, rev, old, new, notification))
    for work_item in range(1001, 1001 + deliveries - 650):
        notification += 1
        bodies.append(_payload(work_item, 2, "Active", "Closed", notification))
    rng = random.Random(7)
    bodies += rng.sample(bodies[:500], 150)
    rng.shuffle(bodies)
    encoded = [json.dumps(b).encode() for b in bodies]

    host = subprocess.Popen(
        [sys.executable, "-m", "devhost", "--port", "0"],
        cwd=ROOT,
        env={
            **os.environ,
            "DEVHOST_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            "AzureWebJobs.SyncStatus.Disabled": "false" if sync else "true",
            "FUNCTIONS_WORKER_PROCESS_COUNT": str(workers),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = ""
    assert host.stdout is not None
    for line in host.stdout:
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if match:
            url = match[1]
            break
    threading.Thread(target=lambda: [None for _ in host.stdout], daemon=True).start()
    webhook = f"{url}/api/workitems/webhook"
    local = threading.local()
    headers = {**_basic(secret), "Content-Type": "application/json"}

    def post(body: bytes) -> tuple[int, float]:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        start = time.perf_counter()
        response = session.post(webhook, data=body, headers=headers, timeout=30)
        return response.status_code, time.perf_counter() - start

    for body in encoded[:5]:  # warm the host (imports, clients); counted below as duplicates
        post(body)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(post, encoded))
    burst = time.perf_counter() - started

    def settled() -> bool:
        return all(sentry.issues[str(w)]["status"] == "resolved" for w in linked)

    while sync and not settled() and time.perf_counter() - started < 600:
        time.sleep(0.05)
    reached = time.perf_counter() - started
    outcome = (
        f"Sentry reached after {reached:.1f} s"
        if not sync or settled()
        else f"NOT settled after {reached:.0f} s"
    )
    statuses = {code: sum(1 for c, _ in results if c == code) for code in {c for c, _ in results}}
    latencies = sorted(latency for _, latency in results)
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    host.terminate()
    host.wait(30)
    router.close()
    azurite.stop()
    if workers > 1:
        return [
            (
                f"2c. same burst, {workers} worker processes",
                f"{len(encoded) / burst:.0f} acks/s; p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
                f"{outcome}",
                "(FUNCTIONS_WORKER_PROCESS_COUNT)",
            )
        ]
    if not sync:
        return [
            (
                "2b. same burst, SyncStatus switched off",
                f"{len(encoded) / burst:.0f} acks/s; p50 {p50:.1f} ms, p99 {p99:.1f} ms",
                "(where the time goes)",
            )
        ]
    return [
        (
            f"2. burst: {len(encoded)} deliveries, concurrency {concurrency}",
            f"{len(encoded) / burst:.0f} acks/s; statuses {dict(sorted(statuses.items()))}",
            "≥ 200 acks/s",
        ),
        ("2. burst latency", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms", "p99 ≤ 100 ms"),
        (
            "2. burst: last change reached Sentry",
            f"{outcome}; {len(sentry.writes)} Sentry writes",
            "report",
        ),
    ]


# -- 3. API economy -------------------------------------------------------------------------------


class _CountingHandler(logging.Handler):
    """Counts storage requests from urllib3's connection log, by port."""

    def __init__(self, ports: dict[str, int]) -> None:
        super().__init__(logging.DEBUG)
        self.by_port = {port: kind for kind, port in ports.items()}
        self.counts = {"Table": 0, "Queue": 0}
        self._pattern = re.compile(r'http://127\.0\.0\.1:(\d+) "')

    def emit(self, record: logging.LogRecord) -> None:
        match = self._pattern.search(record.getMessage())
        if match:
            kind = self.by_port.get(int(match[1]))
            if kind in self.counts:
                self.counts[kind] += 1

    def take(self) -> dict[str, int]:
        counts, self.counts = self.counts, {"Table": 0, "Queue": 0}
        return counts


def bench_economy(events: int) -> list[Row]:
    import azure.functions.queue as func_queue
    import responses
    from fakes import FakeAzureDevOps, FakeSentry

    import SyncStatus
    from shared.devops_intake.webhook import handle_delivery
    from shared.store.integrations import Integrations
    from shared.store.links import Links
    from shared.store.sentry_orgs import SentryOrgs
    from shared.store.storage import get_storage

    azurite = start_azurite(ROOT)
    suffix = uuid.uuid4().hex[:8]
    os.environ.update(
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "SYNC_QUEUE_NAME": f"econ-{suffix}",
            "TABLE_PREFIX": f"e{suffix}",
            "BENCH_PAT": "bench-pat",
            "BENCH_TOKEN": "bench-token",
        }
    )
    counter = _CountingHandler(azurite.ports)
    urllib3_log = logging.getLogger("urllib3.connectionpool")
    urllib3_log.setLevel(logging.DEBUG)
    urllib3_log.propagate = False  # counted, not printed
    urllib3_log.addHandler(counter)
    storage = get_storage()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru("http://127.0.0.1:")
        _, secret = Integrations(storage).add(
            COLLECTION, name="Bench", base_url="https://dev.azure.com/contoso/",
            pat_setting="BENCH_PAT",
        )  # fmt: skip
        SentryOrgs(storage).add(
            COLLECTION, slug="acme", base_url="https://sentry.example/", token_setting="BENCH_TOKEN"
        )
        ado = FakeAzureDevOps(rsps, "bench-pat")
        sentry = FakeSentry(rsps, "https://sentry.example/", "acme", "bench-token")
        linked = list(range(1, 101))
        for work_item in linked:
            sentry.add_issue(str(work_item))
            Links(storage).add(COLLECTION, work_item, "acme", str(work_item))
        headers = _basic(secret)
        per_item = events // len(linked)
        bodies = []
        notification = 0
        for rev in range(2, 2 + per_item):
            for work_item in linked:
                notification += 1
                old, new = (("Active", "Closed"), ("Closed", "Active"))[rev % 2 == 1]
                bodies.append(json.dumps(_payload(work_item, rev, old, new, notification)).encode())
        counter.take()

        webhook_ops = {"Table": 0, "Queue": 0}
        sync_ops = {"Table": 0, "Queue": 0}
        messages: list[str] = []
        queue = storage.queue
        for body in bodies:
            assert handle_delivery(body, headers, storage).status == 202
            for kind, count in counter.take().items():
                webhook_ops[kind] += count
            for message in queue.receive_messages(max_messages=32):
                messages.append(message.content)
                queue.delete_message(message)
            counter.take()  # draining the queue is the host's work, not ours

        def run(text: str) -> None:
            SyncStatus.main(func_queue.QueueMessage(id="m", body=text.encode(), dequeue_count=1))

        for text in messages:
            run(text)
            for kind, count in counter.take().items():
                sync_ops[kind] += count
        changes = len(messages)
        sentry_calls = len(sentry.calls)
        ado_calls = len(ado.calls)

        # Redeliveries and stale revisions straight to SyncStatus: what do they cost?
        before_sentry, before_ado = len(sentry.calls), len(ado.calls)
        stale = random.Random(3).sample(messages, 200)
        for text in stale:
            run(text)
        stale_ops = counter.take()
        stale_sentry = len(sentry.calls) - before_sentry
        stale_ado = len(ado.calls) - before_ado

        # Redelivered service hooks: queued again (no marker), then applied once by SyncStatus.
        before_sentry = len(sentry.calls)
        for body in bodies[:100]:
            assert handle_delivery(body, headers, storage).status == 202
        dup_ops = counter.take()
        while True:
            batch = list(queue.receive_messages(max_messages=32))
            if not batch:
                break
            for message in batch:
                run(message.content)
                queue.delete_message(message)
        dup_sentry = len(sentry.calls) - before_sentry
        counter.take()
    urllib3_log.removeHandler(counter)
    urllib3_log.propagate = True
    urllib3_log.setLevel(logging.WARNING)
    azurite.stop()
    return [
        (
            f"3. economy: {changes} state changes, 100 work items, 1 project/type",
            f"Azure DevOps {ado_calls} call(s) in all; Sentry {sentry_calls / changes:.2f} "
            "calls per linked issue per effective change",
            "≤ 1 ADO call per (project, type) per TTL; ≤ 2 Sentry calls",
        ),
        (
            "3. table operations per event",
            f"webhook {webhook_ops['Table'] / changes:.2f} table + "
            f"{webhook_ops['Queue'] / changes:.2f} queue; "
            f"SyncStatus {sync_ops['Table'] / changes:.2f} table",
            "report",
        ),
        (
            "3. 200 stale/duplicate messages to SyncStatus",
            f"Sentry {stale_sentry}, Azure DevOps {stale_ado} calls; "
            f"{stale_ops['Table'] / len(stale):.2f} table ops each",
            "0 API calls",
        ),
        (
            "3. 100 redelivered service hooks",
            f"webhook {dup_ops['Table'] / 100:.2f} table + {dup_ops['Queue'] / 100:.2f} queue "
            f"ops each; then {dup_sentry} Sentry calls (applied once already)",
            "0 Sentry calls",
        ),
    ]


# -- 5. the Sentry side: webhook CPU and the outbound path's API economy ---------------------


def bench_sentry(events: int) -> list[Row]:
    """SentryWebhook's CPU per event against ``json.loads`` of its body, and what SentryEvents
    costs in Azure DevOps and Sentry calls per Sentry event (both on in-memory storage)."""
    import hashlib
    import hmac

    import responses
    from fakes import FakeAzureDevOps, FakeSentry

    from shared.sentry_intake.webhook import handle_sentry_hook
    from shared.sentry_to_devops.events import handle_sentry_event
    from shared.store.integrations import Integrations
    from shared.store.links import Links
    from shared.store.sentry_orgs import SentryOrgs

    storage = MemoryStorage()
    os.environ.update(
        {"BENCH_PAT": "bench-pat", "BENCH_TOKEN": "bench-token", "BENCH_SECRET": "bench-secret"}
    )
    Integrations(storage).add(  # type: ignore[arg-type]
        COLLECTION, name="Bench", base_url="https://dev.azure.com/contoso/", pat_setting="BENCH_PAT"
    )
    SentryOrgs(storage).add(  # type: ignore[arg-type]
        COLLECTION, slug="acme", base_url="https://sentry.example/", token_setting="BENCH_TOKEN",
        client_secret_setting="BENCH_SECRET",
    )  # fmt: skip
    Integrations(storage).set_sync(COLLECTION, {"status-to-devops": True})  # type: ignore[arg-type]
    linked = list(range(1, 101))
    for work_item in linked:
        Links(storage).add(COLLECTION, work_item, "acme", str(work_item))  # type: ignore[arg-type]
    fixture = json.loads((ROOT / "tests" / "fixtures" / "sentryapp_issue_resolved.json").read_text())
    bodies = []
    for n in range(events + 100):
        payload = json.loads(json.dumps(fixture))
        payload["data"]["issue"]["id"] = str(linked[n % len(linked)])
        # Each issue is resolved, then unresolved, then resolved again...: every event moves.
        payload["action"] = "unresolved" if (n // len(linked)) % 2 else "resolved"
        bodies.append(json.dumps(payload).encode())

    def headers(body: bytes, n: int) -> dict[str, str]:
        return {
            "Request-ID": f"req-{n}",
            "Sentry-Hook-Resource": "issue",
            "Sentry-Hook-Timestamp": str(int(time.time())),
            "Sentry-Hook-Signature": hmac.new(b"bench-secret", body, hashlib.sha256).hexdigest(),
        }

    for n, body in enumerate(bodies[:100]):  # warm-up
        handle_sentry_hook(COLLECTION, "acme", body, headers(body, n), storage)  # type: ignore[arg-type]
    handler, parser = [], []
    for n, body in enumerate(bodies[100:], start=100):
        sent = headers(body, n)
        start = time.perf_counter_ns()
        reply = handle_sentry_hook(COLLECTION, "acme", body, sent, storage)  # type: ignore[arg-type]
        handler.append(time.perf_counter_ns() - start)
        assert reply.status == 202, reply.body
        start = time.perf_counter_ns()
        json.loads(body)
        parser.append(time.perf_counter_ns() - start)
    webhook_us, loads_us = _median_ns(handler) / 1000, _median_ns(parser) / 1000
    rows: list[Row] = [
        (
            f"5. Sentry webhook CPU/event ({len(bodies[0]) / 1024:.0f} KiB)",
            f"{webhook_us:.0f} µs (json.loads {loads_us:.0f} µs): {webhook_us / loads_us:.2f}×",
            "≤ 4× json.loads",
        )
    ]
    queued = storage.sent[-events:]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        ado = FakeAzureDevOps(rsps, "bench-pat")
        sentry = FakeSentry(rsps, "https://sentry.example/", "acme", "bench-token")
        for work_item in linked:
            ado.work_items[work_item] = {
                "System.TeamProject": "Fabrikam",
                "System.WorkItemType": "Bug",
                "System.State": "Active",
            }
            sentry.add_issue(str(work_item))
        for text in queued:
            issue = json.loads(text)["issue"]["issue"]["id"]
            sentry.issues[issue]["status"] = json.loads(text)["action"]
            handle_sentry_event(text, 1, storage)  # type: ignore[arg-type]
    writes = len(ado.patches)
    rows.append(
        (
            f"5. Sentry -> Azure DevOps, {len(queued)} issue events",
            f"{len(ado.calls) / len(queued):.2f} Azure DevOps calls/event ({writes} writes), "
            f"{len(sentry.calls) / len(queued):.2f} Sentry calls/event",
            "≤ 3 and 1",
        )
    )
    return rows


# -- 6. releases: calls per deployment ---------------------------------------------------------


def bench_releases(commits: int = 100) -> list[Row]:
    """Azure DevOps and Sentry calls for one deployment whose release carries ``commits``
    commits (half with multi-line messages, which the list cuts), on in-memory storage."""
    import responses
    from fakes_git import REPO_ID, FakeGit, FakeSentryReleases

    from shared.releases.apply import handle_release_message
    from shared.releases.commits import MAX_COMMITS
    from shared.releases.message import ReleaseMessage
    from shared.store.integrations import Integrations
    from shared.store.repositories import DeployTarget, Repositories, TrackedRepository
    from shared.store.sentry_orgs import SentryOrgs

    storage = MemoryStorage()
    os.environ.update({"BENCH_PAT": "bench-pat", "BENCH_TOKEN": "bench-token"})
    Integrations(storage).add(  # type: ignore[arg-type]
        COLLECTION, name="Bench", base_url="https://dev.azure.com/contoso/", pat_setting="BENCH_PAT"
    )
    SentryOrgs(storage).add(  # type: ignore[arg-type]
        COLLECTION, slug="acme", base_url="https://sentry.example/", token_setting="BENCH_TOKEN"
    )
    rows: list[Row] = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        git = FakeGit(rsps, "bench-pat")
        sentry = FakeSentryReleases(rsps, "https://sentry.example/", "acme", "bench-token")
        repos = Repositories(storage)  # type: ignore[arg-type]
        first = git.commit("base")
        repo = repos.track(
            TrackedRepository(
                COLLECTION, REPO_ID, "Fabrikam-Web", "Fabrikam", "acme", ("backend",),
                "{name}@{build}", "refs/heads/main", last_sha=first,
            )
        )  # fmt: skip
        repos.set_deploys(repo, [DeployTarget("Web", "Production", "production")])
        repos.released(repos.get(COLLECTION, REPO_ID), first, "base")  # type: ignore[arg-type]
        for n in range(min(commits, MAX_COMMITS)):
            head = git.commit(f"Change {n}" + ("\n\nwhy it matters" if n % 2 else ""))
        git.run("900", head, "20261123.1")
        message = ReleaseMessage(
            integration_id=COLLECTION, kind="pipeline-deploy", project="Fabrikam",
            build_id="900", pipeline_id="12", pipeline_name="Web", stage="Production",
            result="succeeded",
        )  # fmt: skip
        handle_release_message(message.encode(), 1, storage)  # type: ignore[arg-type]
        release = sentry.releases["Fabrikam-Web@20261123.1"]
        assert len(release["commits"]) == commits and len(release["deploys"]) == 1
        rows.append(
            (
                f"6. one deployment, release of {commits} commits",
                f"{len(git.calls)} Azure DevOps calls ({len(git.calls) / commits:.2f}/commit), "
                f"{len(sentry.calls)} Sentry calls",
                "≤ 2/commit + 3 and 4",
            )
        )
    return rows


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(url: str, body: bytes, headers: dict[str, str], requests_total: int, connections: int
          ) -> tuple[float, float, str]:  # fmt: skip
    """Acks/s and p99 (ms) of ``requests_total`` POSTs at ``connections``: with wrk when it is
    installed (a separate, light load generator), else with Python threads."""
    import shutil

    if shutil.which("wrk"):
        import tempfile

        lua = "wrk.method = 'POST'\n" + f"wrk.body = {json.dumps(body.decode())}\n" + "".join(
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in headers.items()
        )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(lua)
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", "-d8s", "--latency", "-s", script.name, url],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
        p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99[2]]
        return rate, float(p99[1]) * scale, "wrk"
    import requests

    local = threading.local()

    def post(_: int) -> float:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        start = time.perf_counter()
        response = session.post(url, data=body, headers=headers, timeout=30)
        assert response.status_code in (200, 202), response.text
        return time.perf_counter() - start

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=connections) as pool:
        latencies = sorted(pool.map(post, range(requests_total)))
    rate = requests_total / (time.perf_counter() - started)
    return rate, latencies[int(len(latencies) * 0.99) - 1] * 1000, "Python threads"


def bench_acks(requests_total: int = 2000, connections: int = 16) -> list[Row]:
    """Acknowledgements side by side in one run through devhost and Azurite: the yardstick
    (``bench/AckLimit``: parse the body, one queue put, same SDK and host), WorkItemWebhook
    (a linked change) and SentryWebhook (a signed issue event). App CPU per request is the
    host process's CPU, storage SDK included; queue functions are switched off."""
    import hashlib
    import hmac
    import shutil
    import tempfile

    from shared.store.integrations import Integrations
    from shared.store.links import Links
    from shared.store.sentry_orgs import SentryOrgs
    from shared.store.storage import get_storage

    azurite = start_azurite(ROOT)
    suffix = uuid.uuid4().hex[:8]
    os.environ.update({
        "AzureWebJobsStorage": azurite.connection_string, "SYNC_QUEUE_NAME": f"acks-{suffix}",
        "SENTRY_QUEUE_NAME": f"sacks-{suffix}", "TABLE_PREFIX": f"a{suffix}",
        "BENCH_PAT": "bench-pat", "BENCH_TOKEN": "bench-token", "BENCH_SECRET": "bench-secret",
    })  # fmt: skip
    storage = get_storage()
    _, secret = Integrations(storage).add(
        COLLECTION, name="Bench", base_url="https://dev.azure.com/contoso/", pat_setting="BENCH_PAT"
    )
    SentryOrgs(storage).add(
        COLLECTION, slug="acme", base_url="https://sentry.example/", token_setting="BENCH_TOKEN",
        client_secret_setting="BENCH_SECRET",
    )  # fmt: skip
    Links(storage).add(COLLECTION, 13, "acme", "1")
    root = Path(tempfile.mkdtemp(prefix="bench-app-"))
    for entry in ROOT.iterdir():
        if (entry / "function.json").exists() or entry.name in ("shared", "host.json"):
            (root / entry.name).symlink_to(entry)
    (root / "AckLimit").symlink_to(ROOT / "bench" / "AckLimit")
    off = {f"AzureWebJobs.{name}.Disabled": "true"
           for name in ("SyncStatus", "SentryEvents", "ReleaseSync", "SubscriptionCheck")}
    host = subprocess.Popen(
        [sys.executable, "-m", "devhost", "--port", "0"], cwd=ROOT,
        env={**os.environ, **off, "DEVHOST_APP_ROOT": str(root), "DEVHOST_LOG_LEVEL": "WARNING",
             "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    url = ""
    assert host.stdout is not None
    for line in host.stdout:
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if match:
            url = match[1]
            break
    threading.Thread(target=lambda: [None for _ in host.stdout], daemon=True).start()
    work_item = json.dumps(_payload(13, 2, "Active", "Closed", 1)).encode()
    issue = (ROOT / "tests" / "fixtures" / "sentryapp_issue_resolved.json").read_bytes()
    signature = hmac.new(b"bench-secret", issue, hashlib.sha256).hexdigest()
    targets = [
        ("yardstick (parse + 1 queue put)", f"{url}/api/bench/limit", work_item,
         {"Content-Type": "application/json"}),
        ("WorkItemWebhook", f"{url}/api/workitems/webhook", work_item,
         {**_basic(secret), "Content-Type": "application/json"}),
        ("SentryWebhook", f"{url}/api/sentry/{COLLECTION}/acme/webhook", issue, {
            "Content-Type": "application/json", "Request-ID": uuid.uuid4().hex,
            "Sentry-Hook-Resource": "issue", "Sentry-Hook-Timestamp": str(int(time.time())),
            "Sentry-Hook-Signature": signature}),
    ]  # fmt: skip
    measured = []
    try:
        import requests

        for name, target, body, headers in targets:
            for _ in range(20):  # warm: imports, clients
                assert requests.post(target, data=body, headers=headers, timeout=30).ok
            cpu = _cpu_seconds(host.pid)
            started = time.perf_counter()
            rate, p99, tool = _load(target, body, headers, requests_total, connections)
            elapsed = time.perf_counter() - started
            per_request = (_cpu_seconds(host.pid) - cpu) / max(rate * elapsed, 1) * 1000
            measured.append((name, per_request, rate, p99, tool))
    finally:
        host.terminate()
        host.wait(30)
        azurite.stop()
        shutil.rmtree(root, ignore_errors=True)
    limit = measured[0]
    rows = []
    for name, cpu, rate, p99, tool in measured:
        rows.append((
            f"9. acks, {name}, {connections} connections ({tool})",
            f"{cpu:.2f} ms app CPU/request ({cpu / limit[1]:.2f}x), {rate:.0f} acks/s "
            f"({rate / limit[2]:.2f}x), p99 {p99:.0f} ms",
            "≤ 1.5x CPU, ≥ 0.7x acks/s; Sentry p99 ≤ 250 ms",
        ))  # fmt: skip
    return rows


def bench_links(counts: tuple[int, ...] = (1, 10, 100), delay: float = 0.02) -> list[Row]:
    """One work item change with 1, 10 and 100 links through SyncStatus against Azurite, with
    a fake Sentry answering each call in ``delay`` seconds: wall time with the links settled
    one after another (``LINK_WORKERS`` 1, the baseline) and side by side, in the same run."""
    import responses
    from fakes import FakeAzureDevOps, FakeSentry

    from shared.devops_to_sentry import sync
    from shared.messages.sync import StateTransition, SyncMessage
    from shared.store.integrations import Integrations
    from shared.store.links import Links
    from shared.store.sentry_orgs import SentryOrgs
    from shared.store.storage import get_storage

    azurite = start_azurite(ROOT)
    rows: list[Row] = []
    parallel = sync.LINK_WORKERS
    try:
        for count in counts:
            suffix = uuid.uuid4().hex[:8]
            os.environ.update({
                "AzureWebJobsStorage": azurite.connection_string, "TABLE_PREFIX": f"l{suffix}",
                "SYNC_QUEUE_NAME": f"links-{suffix}", "BENCH_PAT": "bench-pat",
                "BENCH_TOKEN": "bench-token",
            })  # fmt: skip
            storage = get_storage()
            timings, cpu = {}, {}
            with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
                rsps.add_passthru("http://127.0.0.1:")
                Integrations(storage).add(
                    COLLECTION, name="Bench", base_url="https://dev.azure.com/contoso/",
                    pat_setting="BENCH_PAT",
                )  # fmt: skip
                SentryOrgs(storage).add(
                    COLLECTION, slug="acme", base_url="https://sentry.example/",
                    token_setting="BENCH_TOKEN",
                )  # fmt: skip
                FakeAzureDevOps(rsps, "bench-pat")
                sentry = FakeSentry(rsps, "https://sentry.example/", "acme", "bench-token")
                answer = sentry._issue

                def slow(request: Any, answer: Any = answer) -> Any:
                    time.sleep(delay)
                    return answer(request)

                sentry._issue = slow  # type: ignore[method-assign]
                for work_item, workers in ((7, 1), (8, parallel)):
                    for n in range(count):
                        issue = str(work_item * 1000 + n)
                        sentry.add_issue(issue)
                        Links(storage).add(COLLECTION, work_item, "acme", issue)
                    message = SyncMessage(
                        integration_id=COLLECTION, work_item_id=work_item, rev=2,
                        project_name="Fabrikam", work_item_type="Bug",
                        state=StateTransition(old="Active", new="Closed"),
                    )  # fmt: skip
                    sync.LINK_WORKERS = workers
                    started, used = time.perf_counter(), time.process_time()
                    sync.handle_queue_message(message.encode(), 1, storage)
                    timings[workers] = time.perf_counter() - started
                    cpu[workers] = (time.process_time() - used) / count
                    assert all(
                        sentry.issues[str(work_item * 1000 + n)]["status"] == "resolved"
                        for n in range(count)
                    )
            rows.append((
                f"8. one change, {count} link(s), Sentry answering in {delay * 1000:.0f} ms",
                f"{timings[parallel] * 1000:.0f} ms side by side vs {timings[1] * 1000:.0f} ms "
                f"one by one: {timings[1] / timings[parallel]:.1f}x faster; CPU per link "
                f"{cpu[parallel] * 1000:.1f} ms (one by one {cpu[1] * 1000:.1f} ms; "
                "the fakes' share included)",
                "100 links < 1 s; CPU/link far below 20 ms",
            ))  # fmt: skip
    finally:
        sync.LINK_WORKERS = parallel
        azurite.stop()
    return rows


def bench_sweep(sizes: tuple[int, ...] = (1_000, 10_000, 100_000)) -> list[Row]:
    """The sweep of every link (``reconcile``) against a fake Sentry, on in-memory storage:
    Sentry calls, table calls and time for a first look, for a round where nothing changed,
    and for one where 1% of the issues changed in Sentry."""
    os.environ.update({"BENCH_PAT": "bench-pat", "BENCH_TOKEN": "bench-token"})
    return [row for size in sizes for row in _sweep_size(size)]


def _sweep_size(size: int) -> list[Row]:
    from urllib.parse import parse_qs, urlsplit

    import responses

    from bench.memory_storage import MemoryTable
    from shared.store.integrations import Integrations
    from shared.store.keys import issue_row, work_item_row
    from shared.store.sentry_orgs import SentryOrgs
    from shared.store.storage import LINKS
    from shared.sweep.run import CHUNK_ROWS, Sweep

    storage = MemoryStorage(counting=True)
    Integrations(storage).add(  # type: ignore[arg-type]
        COLLECTION, name="Bench", base_url="https://dev.azure.com/contoso/",
        pat_setting="BENCH_PAT",
    )  # fmt: skip
    SentryOrgs(storage).add(  # type: ignore[arg-type]
        COLLECTION, slug="acme", base_url="https://sentry.example/", token_setting="BENCH_TOKEN",
    )  # fmt: skip
    Integrations(storage).set_sync(  # type: ignore[arg-type]
        COLLECTION, {"status-to-devops": True, "assignee-to-devops": True}
    )
    table = storage.table(LINKS)
    status: dict[str, str] = {}
    for n in range(size):  # link rows as Links.add writes them, without its checks
        issue = str(10_000 + n)
        status[issue] = "unresolved"
        for key in (work_item_row(n + 1, "acme", issue), issue_row("acme", issue, n + 1)):
            table._put(COLLECTION, key, {
                "PartitionKey": COLLECTION, "RowKey": key, "WorkItemId": n + 1,
                "SentryOrg": "acme", "IssueId": issue,
            })  # fmt: skip
    calls = {"sentry": 0}

    def issues(request: Any) -> tuple[int, dict, str]:
        calls["sentry"] += 1
        ids = parse_qs(urlsplit(request.url).query).get("group", [])
        return 200, {}, json.dumps([{"id": i, "status": status[i]} for i in ids])

    rows: list[Row] = []

    def sweep_once(label: str) -> None:
        MemoryTable.calls, calls["sentry"] = 0, 0
        storage.sent.clear()
        started = time.perf_counter()
        report = Sweep(storage).run_all(COLLECTION)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        assert report.checked == size
        chunks = -(-size // CHUNK_ROWS)
        rows.append((
            f"7. sweep {size:,} links, {label}",
            f"{calls['sentry']} Sentry calls ({calls['sentry'] / size * 100:.2f}/100 links), "
            f"{MemoryTable.calls} table calls, {len(storage.sent)} queued; "
            f"{elapsed:.2f} s in all, {elapsed / chunks * 1000:.0f} ms/chunk of {CHUNK_ROWS} rows",
            "≤ 1 Sentry call / 100 links; linear",
        ))  # fmt: skip

    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_callback(
            "GET", re.compile(r"https://sentry\.example/api/0/organizations/acme/issues/"),
            callback=issues,
        )  # fmt: skip
        sweep_once("first look")
        sweep_once("nothing changed")
        for n in range(0, size, 100):
            status[str(10_000 + n)] = "resolved"
        sweep_once("1% changed")
    return rows


# -- 4. cold import -------------------------------------------------------------------------------

_TIME_IMPORT = """
import sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
{imports}
print(time.perf_counter() - start)
"""
_THIRD_PARTY = """
import sys, sysconfig
sys.path.insert(0, {root!r})
before = set(sys.modules)
import {module}
site = sysconfig.get_paths()["purelib"]
names = [
    name for name, mod in sys.modules.items()
    if name not in before and (getattr(mod, "__file__", None) or "").startswith(site)
]
print(" ".join(names))
"""


def _timed_import(imports: str) -> float:
    code = _TIME_IMPORT.format(root=str(ROOT), imports=imports)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    return float(result.stdout.strip().splitlines()[-1])


def bench_cold_import(runs: int) -> list[Row]:
    rows: list[Row] = []
    for module in (
        "WorkItemWebhook",
        "SyncStatus",
        "SearchIssues",
        "SubscriptionCheck",
        "SentryWebhook",
        "SentryComponents",
        "SentryEvents",
        "ReleaseSync",
        "Console",
    ):
        names = subprocess.run(
            [sys.executable, "-c", _THIRD_PARTY.format(root=str(ROOT), module=module)],
            capture_output=True, text=True, check=True, cwd="/",
        ).stdout.split()  # fmt: skip
        own, deps = [], []
        for _ in range(runs):  # interleaved, so drift hits both alike
            own.append(_timed_import(f"import {module}"))
            deps.append(_timed_import("\n".join(f"import {name}" for name in names)))
        own_ms, deps_ms = statistics.median(own) * 1000, statistics.median(deps) * 1000
        rows.append(
            (
                f"4. cold import {module}",
                f"{own_ms:.0f} ms vs its libraries alone {deps_ms:.0f} ms: {own_ms / deps_ms:.2f}×",
                "≤ 1.25×",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events for parts 1 and 3")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per import figure")
    parser.add_argument(
        "--only",
        choices=[
            "cpu", "burst", "economy", "import", "sentry", "releases", "sweep", "links", "acks"
        ],
        help="run one part only",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows: list[Row] = []
    parts = {
        "cpu": lambda: bench_webhook_cpu(args.events),
        "burst": lambda: (
            bench_burst(1000, 16)
            + bench_burst(1000, 16, sync=False)
            + bench_burst(1000, 16, workers=2)
        ),
        "economy": lambda: bench_economy(args.events),
        "import": lambda: bench_cold_import(args.runs),
        "sentry": lambda: bench_sentry(args.events),
        "releases": lambda: bench_releases(20) + bench_releases(100),
        "sweep": lambda: bench_sweep(),
        "links": lambda: bench_links(),
        "acks": lambda: bench_acks(),
    }
    for name, part in parts.items():
        if args.only in (None, name):
            print(f"running {name}...", file=sys.stderr, flush=True)
            rows += part()
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"\n{'measure'.ljust(width)} | {'result'.ljust(value_width)} | target")
    print(f"{'-' * width}-|-{'-' * value_width}-|-------")
    for name, value, target in rows:
        print(f"{name.ljust(width)} | {value.ljust(value_width)} | {target}")
    print(f"\n(machine: {os.cpu_count()} cores, Python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
