"""Two SyncStatus runs on one link, stepped through chosen interleavings, deterministically.

Each run is a thread that stops at named points and goes on only when the test says so:

* ``read``    before it reads the work item's links (the first read, and every re-read);
* ``claim``   before the conditional write of lease + memory (it has decided by then);
* ``record``  before the conditional write of memory alone (it decided: nothing for Sentry);
* ``write``   inside Sentry, before the PUT is applied;
* ``finish``  before clearing ``Pending`` and the lease;
* ``busy``    when it found the other run's lease live and waits.

History used by every test: revision 4 moved Active -> Closed and was applied (Sentry
resolved); then revision 5 (Closed -> Active: reopen) and revision 6 (Active -> Closed:
resolve) run at the same time. In order, Sentry ends resolved.

Ruled out here, and shown by the final Sentry state of each test:

1. a run deciding from a memory that another run's claim has since changed (its own
   conditional write fails, it reads again, decides again);
2. a run writing the link's memory while the other holds the lease (the no-write path is
   conditional on the ETag of a row whose lease was free);
3. a write that lands after the lease ran out and the other run finished (the late run's
   ``finish`` fails, it marks the field and puts Sentry back to the newest memory);
4. a request that timed out, whether or not it reached Sentry (``Pending`` survives the
   failure; the next run on the link settles it).
"""

from __future__ import annotations

import queue
import threading
from datetime import timedelta

import pytest
from world import World

import shared.http
from shared.devops_to_sentry.link_round import LEASE_SECONDS
from shared.devops_to_sentry.sync import handle_queue_message
from shared.doors import RetryLater
from shared.store import link_memory
from shared.store.link_memory import LinkMemoryStore

_runs: dict[int, Run] = {}


class Run:
    """One ``handle_queue_message`` in its own thread, stopping at ``stops``."""

    def __init__(self, world: World, rev: int, old: str, new: str, stops: set[str]) -> None:
        self.message = world.message(rev=rev, old=old, new=new)
        self.stops = stops
        self.rev = rev
        self.error: Exception | None = None
        self._arrived: queue.Queue[str] = queue.Queue()
        self._go = threading.Semaphore(0)
        self._thread = threading.Thread(target=self._main, name=f"run-{rev}", daemon=True)
        self._started = False

    def _main(self) -> None:
        _runs[threading.get_ident()] = self
        try:
            handle_queue_message(self.message.encode(), 1)
        except RetryLater as exc:
            self.error = exc
        finally:
            self._arrived.put("done")

    def hook(self, point: str) -> None:
        if point in self.stops:
            self._arrived.put(point)
            assert self._go.acquire(timeout=30), f"run {self.rev} was never resumed at {point}"

    def to(self, point: str) -> None:
        """Let the run go on until it stops at ``point`` (or ends, for ``"done"``)."""
        if self._started:
            self._go.release()
        else:
            self._started = True
            self._thread.start()
        reached = self._arrived.get(timeout=30)
        assert reached == point, f"run {self.rev} reached {reached}, expected {point}"

    def finish(self) -> None:
        self.stops = set()
        self.to("done")
        self._thread.join(timeout=30)


def _hook(point: str) -> None:
    run = _runs.get(threading.get_ident())
    if run is not None:
        run.hook(point)


@pytest.fixture
def world(app_env, register, stores, rsps, waits, monkeypatch):
    world = World(app_env, register, stores, rsps)
    world.link(5, world.acme, "101")
    world.run(world.message(rev=4, old="Active", new="Closed"))
    assert world.acme.issues["101"]["status"] == "resolved"
    world.acme.calls.clear()

    for name in ("read", "claim", "record", "finish"):
        original = getattr(LinkMemoryStore, name)

        def hooked(self, *args, _original=original, _name=name, **kwargs):
            _hook(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(LinkMemoryStore, name, hooked)

    sentry_handler = world.acme._issue

    def issue(request):
        if request.method == "PUT":
            _hook("write")
        return sentry_handler(request)

    world.acme._issue = issue
    fake_pause = shared.http.pause

    def pause(seconds: float) -> None:
        _hook("busy")
        fake_pause(seconds)

    monkeypatch.setattr(shared.http, "pause", pause)
    # Lease time on the fake clock too, so a test can let a lease run out.
    start = link_memory.now()
    monkeypatch.setattr(link_memory, "now", lambda: start + timedelta(seconds=waits.now - 1000))
    yield world
    _runs.clear()


def _writes(world) -> list[dict]:
    return [call.body for call in world.acme.writes]


def _reopen(world, stops):
    return Run(world, 5, "Closed", "Active", stops)


def _resolve(world, stops):
    return Run(world, 6, "Active", "Closed", stops)


def test_claim_between_the_others_read_and_record(world):
    """The reported interleaving: 5 claims after 6 read; 6's "nothing to do" must not be
    recorded over 5's lease, and 6 must decide again from what 5 left."""
    r5 = _reopen(world, {"read", "claim", "write"})
    r6 = _resolve(world, {"read", "record", "busy"})
    r5.to("read")
    r6.to("read")
    r5.to("claim")  # 5 read rev 4 (Closed) and decided: reopen
    r6.to("record")  # 6 read rev 4 too and decided: nothing ("as already applied")
    r5.to("write")  # 5 holds the lease now
    r6.to("read")  # 6's record failed on the ETag: it reads again
    r6.to("busy")  # ... and finds 5's lease live: it waits instead of recording
    row = world.link_row(5, "acme", "101")
    assert (row.state_rev, row.pending) == (5, frozenset({"status"}))
    r5.finish()
    r6.finish()
    assert r5.error is None and r6.error is None
    assert _writes(world) == [{"status": "unresolved"}, {"status": "resolved"}]
    assert world.acme.issues["101"]["status"] == "resolved"
    row = world.link_row(5, "acme", "101")
    assert (row.state_rev, row.cross_rev, row.pending) == (6, 6, frozenset())


def test_stale_claim_fails_and_the_older_revision_changes_nothing(world):
    r5 = _reopen(world, {"claim", "read"})
    r6 = _resolve(world, set())
    r5.to("read")
    r5.to("claim")  # 5 decided "reopen" from rev 4
    r6.finish()  # 6 records rev 6 (nothing for Sentry)
    r5.to("read")  # 5's claim failed on the ETag: it reads again
    r5.finish()
    assert _writes(world) == []
    assert world.acme.issues["101"]["status"] == "resolved"
    reasons = [row["reason"] for row in world.audit(5)[:2]]
    assert reasons == [
        "older revision; changes nothing now",
        "moved from not-done into a done state, as already applied",
    ]


def test_write_after_the_lease_ran_out_is_put_back(world, waits):
    """5 freezes inside its Sentry write past its lease; 6 takes over and finishes; then 5's
    stale write lands. 5's finish fails, so it marks the field and puts Sentry back."""
    r5 = _reopen(world, {"write", "read"})
    r6 = _resolve(world, set())
    r5.to("read")
    r5.to("write")
    waits.advance(LEASE_SECONDS + 1)  # the lease runs out while 5 is frozen
    r6.finish()  # 6 settles 5's pending status and its own revision: resolved
    assert world.acme.issues["101"]["status"] == "resolved"
    r5.to("read")  # the stale "unresolved" landed; finish failed; 5 reads again
    assert world.acme.issues["101"]["status"] == "unresolved"
    r5.finish()
    assert world.acme.issues["101"]["status"] == "resolved"
    assert _writes(world) == [{"status": "unresolved"}, {"status": "resolved"}]
    rows = world.audit(5)
    overtaken = [r for r in rows if "overtaken by another run" in r["reason"]]
    assert [(r["outcome"], r["action"], r["rev"]) for r in overtaken] == [
        ("applied", "unresolve", 5)
    ]
    repair = rows[0]
    assert (repair["outcome"], repair["action"], repair["rev"]) == ("applied", "resolve", 5)
    assert "correcting Sentry where it may differ" in repair["reason"]
    row = world.link_row(5, "acme", "101")
    assert (row.state_rev, row.pending) == (6, frozenset())
    # The repair mark is gone: a later run has nothing to correct.
    world.run(world.message(rev=6, old="Active", new="Closed"))
    assert len(world.acme.writes) == 2


@pytest.mark.parametrize("reached", [True, False], ids=["reached-sentry", "lost"])
def test_a_timed_out_write_is_settled_by_the_next_run(world, monkeypatch, reached):
    import requests

    handler = world.acme._issue

    def timing_out(request):
        if request.method == "PUT":
            if reached:
                handler(request)
            else:
                world.acme.calls.append(type(world.acme.calls[0])("PUT", request.path_url))
            return requests.Timeout("read timed out")
        return handler(request)

    world.acme._issue = timing_out
    with pytest.raises(RetryLater):
        world.run(world.message(rev=5, old="Closed", new="Active"))
    row = world.link_row(5, "acme", "101")
    assert (row.state_rev, row.pending) == (5, frozenset({"status"}))
    assert world.acme.issues["101"]["status"] == ("unresolved" if reached else "resolved")

    world.acme._issue = handler
    # Any next run on the link settles it: here a redelivery of revision 4.
    world.run(world.message(rev=4, old="Active", new="Closed"))
    assert world.acme.issues["101"]["status"] == "unresolved"
    assert world.link_row(5, "acme", "101").pending == frozenset()
    # The retry of revision 5 then finds nothing left to do.
    world.run(world.message(rev=5, old="Closed", new="Active"), dequeue_count=2)
    assert world.audit(5)[0]["reason"] == "revision already applied"
    # And revision 6 resolves, as in order.
    world.run(world.message(rev=6, old="Active", new="Closed"))
    assert world.acme.issues["101"]["status"] == "resolved"
