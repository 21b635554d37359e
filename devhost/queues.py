"""Queue triggers polled from Storage with the semantics ``host.json`` gives them.

* ``messageEncoding``: ``base64`` (the default) decodes each message; one that is not valid
  base64 goes straight to ``<queue>-poison`` without running the function, as in storage
  extension 5.x. ``none`` passes the text through.
* ``batchSize`` messages are fetched per poll and run in parallel.
* A message whose function raised is made visible again after ``visibilityTimeout``; once its
  ``DequeueCount`` reaches ``maxDequeueCount`` it is copied to ``<queue>-poison`` (content
  unchanged) and deleted instead.
* Polling backs off while the queue is empty: 100 ms, then doubling (with jitter) up to
  ``maxPollingInterval``; a message found resets it.

Simplification (documented in docs/running-locally.md): a batch is finished before the next
poll, instead of the host's ``newBatchThreshold`` refill.
"""

from __future__ import annotations

import base64
import binascii
import logging
import random
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.functions.queue import QueueMessage
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from devhost.loader import Function

log = logging.getLogger("devhost.queues")
# The host takes a message for 10 minutes and keeps extending that while the function runs.
# We take it for 30 s and extend it every 10 s: same effect, and a message whose release
# failed (storage down at that moment) comes back in 30 s, not 10 minutes.
LEASE_SECONDS = 30
RENEW_SECONDS = 10
MIN_POLL_SECONDS = 0.1
STORAGE_CALLS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 2, "read_timeout": 10}
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)$")


def timespan_seconds(value: Any) -> float:
    """Seconds in a .NET TimeSpan string such as ``00:00:30`` or ``1.00:00:00``."""
    match = _TIMESPAN.match(str(value).strip())
    if not match:
        raise ValueError(f"not a TimeSpan: {value!r}")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


@dataclass(frozen=True)
class QueueOptions:
    batch_size: int = 16
    visibility_timeout: float = 0.0
    max_dequeue_count: int = 5
    message_encoding: str = "base64"
    max_polling_interval: float = 2.0  # the host's default when running locally

    @classmethod
    def from_host(cls, queues: dict[str, Any]) -> QueueOptions:
        lowered = {key.lower(): value for key, value in queues.items()}
        options = cls(
            batch_size=int(lowered.get("batchsize", 16)),
            visibility_timeout=timespan_seconds(lowered.get("visibilitytimeout", "00:00:00")),
            max_dequeue_count=int(lowered.get("maxdequeuecount", 5)),
            message_encoding=str(lowered.get("messageencoding", "base64")).lower(),
            max_polling_interval=timespan_seconds(lowered.get("maxpollinginterval", "00:00:02")),
        )
        if not 1 <= options.batch_size <= 32:
            raise ValueError("extensions.queues.batchSize must be 1-32")
        if options.max_dequeue_count < 1:
            raise ValueError("extensions.queues.maxDequeueCount must be at least 1")
        if options.message_encoding not in ("base64", "none"):
            raise ValueError("extensions.queues.messageEncoding must be base64 or none")
        return options


class QueueListener:
    """Polls one queue for one queue-triggered function."""

    def __init__(
        self,
        function: Function,
        connection_string: str,
        queue_name: str,
        options: QueueOptions,
        invoke: Callable[[Function, dict[str, Any]], Any],
    ) -> None:
        self.function = function
        self.queue_name = queue_name
        self.options = options
        self._invoke = invoke
        # Raw text in and out: decoding is ours to do, so poison copies keep the content.
        # Storage calls fail fast (the SDK's default retries wait 15 s and more): the poll loop
        # retries by itself, says at once when storage is unreachable, and stops promptly.
        self._queue = QueueClient.from_connection_string(
            connection_string, queue_name, **STORAGE_CALLS
        )
        self._poison = QueueClient.from_connection_string(
            connection_string, f"{queue_name}-poison", **STORAGE_CALLS
        )
        self.unreachable = False  # the last poll could not reach storage
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"queue-{queue_name}", daemon=True)
        self._pool = ThreadPoolExecutor(max_workers=options.batch_size)
        self.processed = 0

    def start(self) -> None:
        self._thread.start()

    def signal(self) -> None:
        """Stop polling (``stop`` then waits for what is under way)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self._pool.shutdown(wait=True)

    def _run(self) -> None:
        delay = MIN_POLL_SECONDS
        ready = False
        while not self._stop.is_set():
            try:
                if not ready:
                    _create(self._queue)
                    ready = True
                messages = list(
                    self._queue.receive_messages(
                        max_messages=self.options.batch_size,
                        messages_per_page=self.options.batch_size,
                        visibility_timeout=LEASE_SECONDS,
                    )
                )
            except AzureError as exc:
                if not self.unreachable:
                    log.error(
                        "storage unreachable at %s (%s): is Azurite running? make run starts "
                        "it; otherwise check AzureWebJobsStorage. Polling %s goes on.",
                        self._queue.primary_endpoint.rsplit("/", 1)[0],
                        type(exc).__name__,
                        self.queue_name,
                    )
                self.unreachable = True
                messages = []
            else:
                if self.unreachable:
                    log.warning("storage reachable again: polling %s", self.queue_name)
                self.unreachable = False
            if messages:
                list(self._pool.map(self._process, messages))
                delay = MIN_POLL_SECONDS
            else:
                delay = min(
                    self.options.max_polling_interval,
                    delay * 2 * random.uniform(0.8, 1.2),  # noqa: S311
                )
            self._stop.wait(delay)

    def _process(self, message: Any) -> None:
        raw: str = message.content
        if self.options.message_encoding == "base64":
            try:
                body = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                log.error(
                    "message %s on %s is not base64: moved to poison", message.id, self.queue_name
                )
                self._to_poison(message, raw)
                return
        else:
            body = raw.encode("utf-8")
        queue_message = QueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        lease = _Lease(self._queue, message)
        try:
            self._invoke(self.function, {self.function.trigger["name"]: queue_message})
        except Exception as exc:  # noqa: BLE001 - a failed invocation is a retry, as in the host
            lease.stop()
            log.warning(
                "%s failed on message %s (attempt %s): %s",
                self.function.name,
                message.id,
                message.dequeue_count,
                type(exc).__name__,
            )
            try:
                if message.dequeue_count >= self.options.max_dequeue_count:
                    self._to_poison(message, raw)
                else:
                    self._queue.update_message(
                        message, visibility_timeout=int(self.options.visibility_timeout)
                    )
            except AzureError as storage_error:
                log.warning("could not release message %s: %s", message.id, storage_error)
            return
        lease.stop()
        try:
            self._queue.delete_message(message)
        except AzureError as exc:
            log.warning("could not delete message %s: %s", message.id, type(exc).__name__)
        self.processed += 1

    def _to_poison(self, message: Any, raw: str) -> None:
        _create(self._poison)
        self._poison.send_message(raw)
        self._queue.delete_message(message)


class _Lease:
    """Keeps a received message invisible while its function runs. ``message.pop_receipt``
    follows each extension, so the later delete or release uses the current one."""

    def __init__(self, queue: QueueClient, message: Any) -> None:
        self._queue = queue
        self._message = message
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._done.wait(RENEW_SECONDS):
            try:
                updated = self._queue.update_message(
                    self._message, visibility_timeout=LEASE_SECONDS
                )
                self._message.pop_receipt = updated.pop_receipt
            except AzureError as exc:
                log.warning("could not extend message %s: %s", self._message.id, exc)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _create(client: QueueClient) -> None:
    try:
        client.create_queue()
    except ResourceExistsError:
        pass


def send_output(connection_string: str, queue_name: str, values: Any, encoding: str) -> None:
    """Write a queue output binding's value(s), encoded the way the trigger side reads them."""
    client = QueueClient.from_connection_string(
        connection_string,
        queue_name,
        message_encode_policy=TextBase64EncodePolicy() if encoding == "base64" else None,
    )
    _create(client)
    items = values if isinstance(values, (list, tuple)) else [values]
    for item in items:
        if isinstance(item, bytes):
            item = item.decode("utf-8")
        client.send_message(str(item))
