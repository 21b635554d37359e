"""What the Azure DevOps and Sentry clients share: typed API errors, retries inside a budget,
and respect for the rate-limit signals each service sends.

Rules: 429 is always retried after the wait the service asks for (a throttled request was not
executed); 408, 5xx, timeouts and connection errors are retried with jittered backoff only for
idempotent requests; other statuses are never retried. Every wait comes out of one budget per
call, so a message never blocks a worker for long: past the budget the error is raised and
the queue retries the message later.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from shared.content import clean
from shared.errors import SyncError
from shared.log import log_event


class ApiError(SyncError):
    """A call to Azure DevOps or Sentry failed. ``retryable`` says whether later may work."""

    retryable = False

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status
        self.detail = message
        # What the service said about a refusal (its "message"/"detail"), cut short; shown to
        # people where it helps them fix their input (a field rule, an unknown state).
        self.remote_message: str | None = None

    def during(self, call: str) -> ApiError:
        """Name the call that failed (method and path, never the query or a header)."""
        self.args = (f"{self.service}: {call}: {self.detail}",)
        return self


class ApiAuthError(ApiError):
    """Credentials missing, rejected or lacking a permission (401, 403, sign-in redirect)."""


class ApiNotFound(ApiError):
    """404: the resource does not exist (or is not visible to these credentials)."""


class ApiRejected(ApiError):
    """Another 4xx: the request itself is wrong; repeating it will not help."""


class ApiThrottled(ApiError):
    """429: rate limited; ``retry_after`` seconds is how long the service asked us to wait."""

    retryable = True

    def __init__(self, service: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(service, message, 429)
        self.retry_after = retry_after


class ApiUnavailable(ApiError):
    """408, 5xx, timeout or connection failure: the service may work again soon."""

    retryable = True


class ApiTimeout(ApiUnavailable):
    """No answer within the read or connect timeout."""


class DeadlinePassed(ApiTimeout):
    """The caller's overall deadline (``deadline``) left no time for this call or its retry."""


_deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every call made inside finishes, retries included, within ``seconds`` from now, or
    raises ``DeadlinePassed``: for requests a person waits on, which the caller must answer
    before its own caller gives up."""
    token = _deadline.set(clock() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _remaining() -> float | None:
    end = _deadline.get()
    return None if end is None else end - clock()


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    budget_seconds: float = 20.0
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    connect_timeout: float = 3.05
    read_timeout: float = 15.0


def segment(name: str) -> str:
    """``name`` as one URL path segment: quoted, and never ``.`` or ``..``, which a client
    resolves against the base URL (``{org}/../_apis`` leaves the organization's path)."""
    if name.strip() in ("", ".", ".."):
        raise ApiRejected("api", f"{name[:40]!r} cannot be used as a name in a URL path")
    return quote(name, safe="")


def _has_dot_segment(path: str) -> bool:
    return any(part in (".", "..") for part in path.split("/"))


def pause(seconds: float) -> None:
    """Sleep; the one place clients wait (tests replace it and ``clock`` with a fake clock)."""
    time.sleep(seconds)


def clock() -> float:
    return time.monotonic()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def proxies_in_environment() -> bool:
    """Whether the environment names a proxy. Without one, a session need not read proxy
    variables (and ~/.netrc) on every request: with hundreds of app settings that lookup
    costs more CPU than the rest of a call. With one, requests reads them as usual."""
    return any(name.lower() in _PROXY_VARIABLES for name in os.environ)


class ApiClient:
    """A ``requests`` session with explicit retries; subclasses add the service's calls."""

    service = "api"

    def __init__(
        self, base_url: str, headers: Mapping[str, str], policy: RetryPolicy | None = None
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.policy = policy or RetryPolicy()
        self._session = requests.Session()
        self._session.trust_env = proxies_in_environment()
        # Links of one message are settled side by side: enough pooled connections for them.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers.update(headers)
        self._lock = threading.Lock()
        self._not_before = 0.0  # monotonic time before which we hold back (pacing)
        self.calls = 0  # requests sent, for the benchmark's API-economy figures

    def throttle_wait(self, response: requests.Response) -> float | None:
        """Seconds the service asks us to wait, from its headers. Subclasses add their own."""
        return parse_retry_after(response.headers.get("Retry-After"), time.time())

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        idempotent: bool,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None = None,
        json: Any = None,
        content_type: str | None = None,
    ) -> requests.Response:
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url.lstrip("/")
        parts = urlsplit(url)
        if parts.netloc != urlsplit(self.base_url).netloc:
            raise ApiRejected(self.service, "refusing to call a host other than the base URL's")
        if _has_dot_segment(parts.path):
            raise ApiRejected(self.service, "refusing a URL path with . or .. segments")
        if json is not None:
            # Every body we send is written into the other system: no control or bidi
            # formatting characters, whatever a payload brought in (shared.content).
            json = clean(json)
        policy = self.policy
        started = clock()
        attempt = 0
        while True:
            attempt += 1
            self._hold_back(started)
            left = _remaining()
            if left is not None and left <= 0.05:
                raise DeadlinePassed(self.service, "no time left to wait for an answer").during(
                    f"{method} {parts.path}"
                )
            response, error, wait = self._attempt(method, url, params, json, content_type, left)
            if error is None:
                assert response is not None
                return response
            retry = error.retryable and (idempotent or isinstance(error, ApiThrottled))
            if not retry or attempt >= policy.attempts:
                raise error.during(f"{method} {parts.path}")
            if wait is None:
                wait = min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** (attempt - 1))
                wait *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not crypto
                self._pace(wait)
            if clock() - started + wait > policy.budget_seconds:
                raise error.during(f"{method} {parts.path}")
            left = _remaining()
            if left is not None and wait >= left:
                raise error.during(f"{method} {parts.path}")
            log_event(
                "http.retry",
                logging.WARNING,
                service=self.service,
                status=error.status,
                attempt=attempt,
                wait=round(wait, 3),
            )

    def _pace(self, seconds: float) -> None:
        """Hold every call of this client back for ``seconds`` (all threads share it)."""
        with self._lock:
            self._not_before = max(self._not_before, clock() + seconds)

    def _hold_back(self, started: float) -> None:
        """Wait out the pacing the service asked for, or give up if it outlasts the budget."""
        with self._lock:
            delay = self._not_before - clock()
        if delay <= 0:
            return
        if clock() - started + delay > self.policy.budget_seconds:
            raise ApiThrottled(self.service, "asked to wait longer than the retry budget", delay)
        pause(delay)

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | Sequence[tuple[str, Any]] | None,
        body: Any,
        content_type: str | None = None,
        left: float | None = None,
    ) -> tuple[requests.Response | None, ApiError | None, float | None]:
        self.calls += 1
        connect, read = self.policy.connect_timeout, self.policy.read_timeout
        if left is not None:  # the caller's deadline shortens the timeouts
            connect, read = min(connect, left), min(read, left)
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                json=body,
                headers={"Content-Type": content_type} if content_type else None,
                timeout=(connect, read),
                allow_redirects=False,
            )
        except requests.Timeout:
            return None, ApiTimeout(self.service, "request timed out"), None
        except requests.ConnectionError:
            return None, ApiUnavailable(self.service, "could not connect"), None
        except requests.RequestException as exc:
            error = ApiUnavailable(self.service, f"request failed ({type(exc).__name__})")
            return None, error, None

        status = response.status_code
        wait = self.throttle_wait(response)
        if wait:
            self._pace(wait)
        if 200 <= status < 300 and status != 203:
            return response, None, None
        error = self._error_for(status, wait)
        error.remote_message = _remote_message(response)
        return None, error, wait

    def _error_for(self, status: int, wait: float | None) -> ApiError:
        if status == 429:
            return ApiThrottled(self.service, "rate limited (429)", wait)
        if status in (401, 403, 203) or 300 <= status < 400:
            # Azure DevOps answers a bad PAT with a sign-in page (203 or a redirect).
            return ApiAuthError(self.service, f"credentials rejected ({status})", status)
        if status == 404:
            return ApiNotFound(self.service, "not found (404)", status)
        if status == 408 or status >= 500:
            return ApiUnavailable(self.service, f"service unavailable ({status})", status)
        return ApiRejected(self.service, f"request rejected ({status})", status)


def _remote_message(response: requests.Response) -> str | None:
    """The service's own words about an error (``message`` or ``detail``), if it sent JSON."""
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    text = body.get("message") or body.get("detail") if isinstance(body, dict) else None
    return " ".join(str(text).split())[:300] if text else None
