"""The door kit's two tables: typed errors to HTTP answers, and to queue retry or park."""

import logging

import pytest

from shared import doors
from shared.doors import Rejected, RetryLater, answer, consume
from shared.errors import (
    ConfigurationError,
    IntegrationNotFound,
    IntegrationRemoved,
    InvalidInput,
    StorageRejected,
    StorageUnavailable,
    Unreadable,
)
from shared.http import ApiAuthError, ApiNotFound, ApiThrottled, ApiTimeout, ApiUnavailable


def _raise(exc: Exception):
    def work():
        raise exc

    return work


@pytest.mark.parametrize(
    ("exc", "status", "reason", "retry_after"),
    [
        (Rejected(413, "body is larger"), 413, "body is larger", None),
        (InvalidInput("query is required"), 400, "query is required", None),
        (IntegrationNotFound("x"), 404, "unknown integration", None),
        (IntegrationRemoved("x"), 404, "unknown integration", None),
        (
            ApiAuthError("azure-devops", "credentials rejected (401)", 401),
            502,
            "Azure DevOps rejected the integration's credentials (check the PAT)",
            None,
        ),
        (
            ApiAuthError("sentry", "credentials rejected (401)", 401),
            502,
            "Sentry rejected the integration's credentials (check the token)",
            None,
        ),
        (ApiThrottled("azure-devops", "429", 119.2), 503, "Azure DevOps is throttling requests", "120"),
        (ApiThrottled("sentry", "429", None), 503, "Sentry is throttling requests", "30"),
        (ApiTimeout("azure-devops", "timed out"), 504, "Azure DevOps did not answer in time", None),
        (ApiNotFound("azure-devops", "404", 404), 502, "Azure DevOps request failed (404)", None),
        (ApiUnavailable("sentry", "no answer"), 502, "Sentry request failed (no answer)", None),
        (StorageUnavailable("down"), 503, "storage is unavailable; retry later", "30"),
        (ConfigurationError("no setting"), 503, "the app is not ready; retry later", "30"),
        (StorageRejected("403"), 503, "the request could not be processed; retry later", "30"),
        (KeyError("bug"), 503, "the request could not be processed; retry later", "30"),
    ],
)
def test_every_error_has_one_answer_and_none_is_500(exc, status, reason, retry_after):
    reply = answer("edge", _raise(exc))
    assert (reply.status, reply.body) == (status, {"error": reason})
    assert reply.headers.get("Retry-After") == retry_after


def test_a_bug_is_logged_without_its_message(caplog):
    caplog.set_level(logging.DEBUG)
    answer("edge", _raise(KeyError("secret-value")))
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert any(line.startswith("edge.failed") for line in lines)
    assert not any("secret-value" in line for line in lines)


def test_http_response_carries_status_headers_and_json():
    response = doors.http_response(doors.error(503, "later", {"Retry-After": "30"}))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"
    assert response.mimetype == "application/json"
    assert response.get_body() == b'{"error": "later"}'


def test_queue_work_that_fails_is_retried_until_its_last_attempt(monkeypatch):
    monkeypatch.setattr(doors, "max_dequeue_count", lambda: 3)
    parked: list[Exception] = []
    for attempt in (1, 2):
        with pytest.raises(RetryLater, match=r"^down$"):
            consume("edge", attempt, _raise(StorageUnavailable("down")), parked.append)
    assert parked == []
    consume("edge", 3, _raise(StorageUnavailable("down")), parked.append)
    assert [type(e) for e in parked] == [StorageUnavailable]


def test_an_unreadable_message_is_parked_at_once(monkeypatch):
    monkeypatch.setattr(doors, "max_dequeue_count", lambda: 5)
    parked: list[Exception] = []
    consume("edge", 1, _raise(Unreadable("rev is missing")), parked.append)
    assert [str(e) for e in parked] == ["rev is missing"]


def test_queue_work_that_succeeds_is_done():
    done: list[int] = []
    consume("edge", 1, lambda: done.append(1), lambda exc: pytest.fail("parked"))
    assert done == [1]
