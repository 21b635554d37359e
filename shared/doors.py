"""The door kit: what every function folder uses to turn an outcome into the host's answer.

* HTTP functions return a ``Reply``; ``answer(edge, work)`` runs the work and maps any error to
  one through ``HTTP_ERRORS``, the single table from typed errors to status, reason and
  ``Retry-After``; ``http_response`` hands the reply to the Functions host. Nothing answers
  500: a bug becomes a 503 with ``Retry-After``, logged.
* Queue functions run their work with ``consume``: returning means done (the host deletes the
  message); ``QUEUE_ERRORS`` says which errors are worth another attempt (``RetryLater`` is
  raised, the host retries) and which park the message at once. On the last attempt every
  error parks it, through the function's own ``give_up``, which writes the audit row.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError

from shared.errors import (
    ConfigurationError,
    GiveUp,
    IntegrationNotFound,
    IntegrationRemoved,
    InvalidInput,
    StorageUnavailable,
    SyncError,
    Unreadable,
)
from shared.http import ApiAuthError, ApiError, ApiThrottled, ApiTimeout, DeadlinePassed
from shared.log import log_event
from shared.settings import max_dequeue_count
from shared.validation import describe_invalid

RETRY_AFTER_SECONDS = 30
SERVICE_NAMES = {"azure-devops": "Azure DevOps", "sentry": "Sentry"}

# -- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """What an HTTP function answers, independent of the Functions library."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    mimetype: str = "application/json"  # else ``body`` is that text already (an HTML page)

    def json(self) -> str:
        return json.dumps(self.body, ensure_ascii=False)

    def text(self) -> str:
        return self.json() if self.mimetype == "application/json" else str(self.body)


def error(
    status: int, reason: str, headers: dict[str, str] | None = None, key: str = "error"
) -> Reply:
    """``{"error": reason}`` (or another ``key``: Sentry shows ``message`` to people): a short,
    specific reason that never holds a secret."""
    return Reply(status, {key: reason}, headers or {})


class Rejected(SyncError):
    """The request is refused with ``status``; ``reason`` is safe to show the caller."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _service(exc: Exception) -> str:
    return SERVICE_NAMES.get(getattr(exc, "service", ""), "The remote service")


def _throttled_wait(exc: Exception) -> int:
    asked = exc.retry_after if isinstance(exc, ApiThrottled) else None
    return max(1, math.ceil(asked or RETRY_AFTER_SECONDS))


@dataclass(frozen=True)
class Refusal:
    """How one kind of error is answered: status, reason (safe to show) and ``Retry-After``."""

    status: Callable[[Exception], int]
    reason: Callable[[Exception], str]
    retry_after: Callable[[Exception], int] | None = None
    level: int = logging.WARNING


def _fixed(value: int) -> Callable[[Exception], int]:
    return lambda exc: value


_LATER = _fixed(RETRY_AFTER_SECONDS)

# First match wins: subclasses before their bases.
HTTP_ERRORS: tuple[tuple[type[Exception], Refusal], ...] = (
    (Rejected, Refusal(lambda e: e.status, lambda e: e.reason)),  # type: ignore[attr-defined]
    (InvalidInput, Refusal(_fixed(400), str)),
    (IntegrationNotFound, Refusal(_fixed(404), lambda e: "unknown integration")),
    (IntegrationRemoved, Refusal(_fixed(404), lambda e: "unknown integration")),
    (
        ApiAuthError,
        Refusal(
            _fixed(502),
            lambda e: f"{_service(e)} rejected the integration's credentials "
            f"(check the {'PAT' if _service(e) == 'Azure DevOps' else 'token'})",
        ),
    ),
    (
        ApiThrottled,
        Refusal(_fixed(503), lambda e: f"{_service(e)} is throttling requests", _throttled_wait),
    ),
    (
        DeadlinePassed,
        Refusal(
            _fixed(503),
            lambda e: f"{_service(e)} is answering slowly; try again in a moment "
            "(a retry is safe: nothing is done twice)",
            _LATER,
        ),
    ),
    (ApiTimeout, Refusal(_fixed(504), lambda e: f"{_service(e)} did not answer in time")),
    (
        ApiError,
        Refusal(
            _fixed(502),
            lambda e: f"{_service(e)} request failed "  # type: ignore[attr-defined]
            f"({e.status or 'no answer'})",
        ),
    ),
    (
        StorageUnavailable,
        Refusal(
            _fixed(503), lambda e: "storage is unavailable; retry later", _LATER, logging.ERROR
        ),
    ),
    (
        ConfigurationError,
        Refusal(_fixed(503), lambda e: "the app is not ready; retry later", _LATER, logging.ERROR),
    ),
    # The last guard: a bug must not become a 500 (Azure DevOps puts a subscription that gets
    # one on probation; Sentry disables an integration that keeps failing).
    (
        Exception,
        Refusal(
            _fixed(503), lambda e: "the request could not be processed; retry later", _LATER,
            logging.ERROR,
        ),
    ),
)  # fmt: skip


def reply_for(edge: str, exc: Exception, key: str = "error") -> Reply:
    """The one place where an HTTP function's errors become statuses."""
    refusal = next(r for kind, r in HTTP_ERRORS if isinstance(exc, kind))
    status, reason = refusal.status(exc), refusal.reason(exc)
    headers = {"Retry-After": str(refusal.retry_after(exc))} if refusal.retry_after else {}
    if not isinstance(exc, SyncError):
        log_event(f"{edge}.failed", logging.ERROR, error=type(exc).__name__)
        logging.getLogger(__name__).debug("%s failure", edge, exc_info=True)
    else:
        outcome = "rejected" if status < 500 else "unavailable"
        log_event(
            f"{edge}.{outcome}", refusal.level, status=status, error=type(exc).__name__,
            reason=reason,
        )  # fmt: skip
    return error(status, reason, headers, key)


def answer(edge: str, work: Callable[[], Reply], key: str = "error") -> Reply:
    """``work()``'s reply, or the reply its error maps to (the reason under ``key``)."""
    try:
        return work()
    except Exception as exc:  # noqa: BLE001 - mapped, logged and answered in reply_for
        return reply_for(edge, exc, key)


def http_response(reply: Reply) -> func.HttpResponse:
    return func.HttpResponse(
        reply.text(), status_code=reply.status, headers=reply.headers, mimetype=reply.mimetype
    )


# -- queues -----------------------------------------------------------------------------------


class RetryLater(SyncError):
    """Some of the message's work failed in a way a later attempt may fix."""


M = TypeVar("M", bound=BaseModel)


def read_message(model: type[M], text: str) -> M:
    """A queue message as ``model``; ``Unreadable`` (parked at once) if it is not one."""
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise Unreadable(describe_invalid(exc)) from None


class QueueVerdict(enum.Enum):
    RETRY = "retry"  # raise RetryLater: the host makes the message visible again later
    PARK = "park"  # give up now: the poison queue, with an audit row saying why


QUEUE_ERRORS: tuple[tuple[type[Exception], QueueVerdict], ...] = (
    (GiveUp, QueueVerdict.PARK),
    (Exception, QueueVerdict.RETRY),
)


def queue_verdict(exc: Exception, attempt: int) -> QueueVerdict:
    if attempt >= max_dequeue_count():
        return QueueVerdict.PARK
    return next(verdict for kind, verdict in QUEUE_ERRORS if isinstance(exc, kind))


def consume(
    edge: str, attempt: int, work: Callable[[], None], give_up: Callable[[Exception], None]
) -> None:
    """Run one queue message's ``work``; on an error, retry later or ``give_up`` (park)."""
    try:
        work()
    except Exception as exc:  # every error is retried or parked with a record
        if not isinstance(exc, SyncError):
            log_event(f"{edge}.unexpected_error", logging.ERROR, error=type(exc).__name__)
            logging.getLogger(__name__).debug("unexpected %s failure", edge, exc_info=True)
        if queue_verdict(exc, attempt) is QueueVerdict.PARK:
            give_up(exc)
            return
        summary = (str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}")[:500]
        log_event(f"{edge}.retry_later", logging.WARNING, attempt=attempt, errors=summary)
        raise RetryLater(summary) from exc
