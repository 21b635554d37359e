"""``shared.http.deadline``: calls made inside finish, retries included, by the deadline."""

from __future__ import annotations

import pytest
import responses

import shared.http
from shared.http import ApiClient, ApiUnavailable, DeadlinePassed, RetryPolicy, deadline


@pytest.fixture
def now(monkeypatch):
    clock = {"t": 100.0}

    def pause(seconds: float) -> None:
        clock["t"] += seconds

    monkeypatch.setattr(shared.http, "pause", pause)
    monkeypatch.setattr(shared.http, "clock", lambda: clock["t"])
    return clock


def test_timeouts_shrink_to_the_time_left(now):
    client = ApiClient("https://x.example/", {}, RetryPolicy(read_timeout=15.0))
    with responses.RequestsMock() as rsps:
        rsps.add("GET", "https://x.example/a", json={})
        with deadline(4.0):
            now["t"] += 1.5
            client.request("GET", "a", idempotent=True)
        assert rsps.calls[0].request.req_kwargs["timeout"] == (2.5, 2.5)
        client.request("GET", "a", idempotent=True)  # outside: the policy's own
        assert rsps.calls[1].request.req_kwargs["timeout"] == (3.05, 15.0)


def test_no_call_starts_after_the_deadline(now):
    client = ApiClient("https://x.example/", {})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add("GET", "https://x.example/a", json={})
        with deadline(2.0):
            now["t"] += 2.5
            with pytest.raises(DeadlinePassed):
                client.request("GET", "a", idempotent=True)
        assert len(rsps.calls) == 0


def test_no_retry_waits_past_the_deadline(now):
    client = ApiClient("https://x.example/", {}, RetryPolicy(backoff_seconds=5.0))
    with responses.RequestsMock() as rsps:
        rsps.add("GET", "https://x.example/a", status=503, headers={"Retry-After": "3"})
        with deadline(2.0), pytest.raises(ApiUnavailable):
            client.request("GET", "a", idempotent=True)
        assert len(rsps.calls) == 1
