"""Azure Storage plumbing: one Table service client and one sync queue client per process.

Tables and the queue are created on first use in each process, not on every call. Every
storage failure that retrying later could fix (connection refused, timeout, 5xx, throttling)
surfaces as ``StorageUnavailable``; each edge maps that to its own retry signal.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import requests
import requests.adapters
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from azure.storage.queue import (
    QueueClient,
    TextBase64DecodePolicy,
    TextBase64EncodePolicy,
)
from urllib3.util.retry import Retry

from shared.errors import AlreadyExists, ConfigurationError, StorageRejected, StorageUnavailable
from shared.http import proxies_in_environment
from shared.settings import STORAGE_SETTING, Settings, load_settings

# Table names, before the optional TABLE_PREFIX.
INTEGRATIONS = "integrations"
LINKS = "links"
STATE_CACHE = "statecache"
AUDIT = "audit"

# The app's queues, by kind; ``kind + POISON`` is each one's poison queue.
SYNC, SENTRY, RELEASES, POISON = "sync", "sentry", "releases", "-poison"

# A webhook must answer fast even when storage is down: few, short retries.
_RETRIES = {"retry_total": 2, "retry_backoff_factor": 0.2, "retry_backoff_max": 1}
_TIMEOUTS = {"connection_timeout": 3, "read_timeout": 5}


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn transient Azure Storage failures into ``StorageUnavailable``."""
    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StorageUnavailable(f"storage unreachable: {type(exc).__name__}") from exc
    except HttpResponseError as exc:
        if exc.status_code is None or exc.status_code >= 500 or exc.status_code in (408, 429):
            raise StorageUnavailable(f"storage answered {exc.status_code}") from exc
        if exc.status_code in (400, 401, 403, 413):
            # Not "try again": the credentials or the request are wrong. Callers catch
            # 404/409/412 (not found, exists, modified) themselves.
            code = getattr(exc, "error_code", None) or "no error code"
            raise StorageRejected(
                f"storage refused the request ({exc.status_code}, {code})"
            ) from exc
        raise


def _transport() -> RequestsTransport:
    """A transport per client; reads proxy settings only where some are set
    (``proxies_in_environment``)."""
    uses_proxy = proxies_in_environment()
    # Our own session, set up as azure-core sets up its own (no urllib3 retries: the SDK's
    # policy retries), with a pool large enough for the links SyncStatus settles side by side.
    session = requests.Session()
    session.trust_env = uses_proxy
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4,
        pool_maxsize=32,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return RequestsTransport(
        session=session, session_owner=True, use_env_settings=uses_proxy, **_TIMEOUTS
    )


class Storage:
    """Clients for this app's tables and its sync queue."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        connection = settings.storage_connection
        try:
            self._service = TableServiceClient.from_connection_string(
                connection, transport=_transport(), **_RETRIES
            )
            # The queue triggers read base64 (host.json messageEncoding), so we write base64.
            # Poison queues are read raw: the host moves there exactly what it could not
            # process, undecodable text included, and one such message must not hide the rest.
            self._queues: dict[str, QueueClient] = {}
            for kind, name in (
                (SYNC, settings.sync_queue),
                (SENTRY, settings.sentry_queue),
                (RELEASES, settings.release_queue),
            ):
                self._queues[kind] = QueueClient.from_connection_string(
                    connection,
                    name,
                    message_encode_policy=TextBase64EncodePolicy(),
                    message_decode_policy=TextBase64DecodePolicy(),
                    transport=_transport(),
                    **_RETRIES,
                )
                self._queues[kind + POISON] = QueueClient.from_connection_string(
                    connection, name + "-poison", transport=_transport(), **_RETRIES
                )
        except ValueError:
            raise ConfigurationError(
                f"app setting {STORAGE_SETTING} is not a storage connection string "
                "(AccountName=...;AccountKey=...; or UseDevelopmentStorage=true)"
            ) from None
        self._tables: dict[str, TableClient] = {}
        self._ready: set[str] = set()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The table service's URL (no key), to name in messages."""
        return self._service.url.rstrip("/")

    def table(self, name: str) -> TableClient:
        client = self._tables.get(name)
        if client is not None:
            return client
        full_name = self.settings.table_prefix + name
        with self._lock, storage_errors():
            try:
                self._service.create_table(full_name)
            except ResourceExistsError:
                pass
            client = self._tables[name] = self._service.get_table_client(full_name)
        return client

    def queue_client(self, kind: str = SYNC) -> QueueClient:
        """The queue ``kind`` (``SYNC``, ``SENTRY``, ``RELEASES``, each ``+ POISON``), created
        once per process."""
        return self._ready_queue(self._queues[kind])

    @property
    def queue(self) -> QueueClient:
        return self.queue_client(SYNC)

    def depth(self, kind: str = SYNC) -> int:
        """About how many messages wait on the queue ``kind`` (the service's estimate)."""
        with storage_errors():
            return self.queue_client(kind).get_queue_properties().approximate_message_count or 0

    def send(self, text: str, kind: str = SYNC, delay: int | None = None) -> None:
        """Queue ``text``; with ``delay``, it becomes visible after that many seconds."""
        with storage_errors():
            self.queue_client(kind).send_message(text, visibility_timeout=delay)

    def send_sentry_event(self, text: str, delay: int | None = None) -> None:
        self.send(text, SENTRY, delay)

    def send_release(self, text: str) -> None:
        self.send(text, RELEASES)

    @property
    def poison_queue(self) -> QueueClient:
        """``<queue>-poison``, where the host (and a function on a last attempt) puts failures.

        Raw text: write with ``send_poison`` and decode with ``decode_queued``."""
        return self.queue_client(SYNC + POISON)

    def send_poison(self, text: str, kind: str = SYNC) -> None:
        """Park ``text`` in the queue's poison queue, base64 as the host leaves messages there."""
        with storage_errors():
            self.queue_client(kind + POISON).send_message(
                base64.b64encode(text.encode("utf-8")).decode("ascii")
            )

    def _ready_queue(self, client: QueueClient) -> QueueClient:
        """The queue client, after creating its queue once per process."""
        if client.queue_name not in self._ready:
            with self._lock, storage_errors():
                try:
                    client.create_queue()
                except ResourceExistsError:
                    pass
                self._ready.add(client.queue_name)
        return client


@lru_cache(maxsize=4)
def _storage_for(settings: Settings) -> Storage:
    return Storage(settings)


def decode_queued(raw: str) -> str | None:
    """The text of a base64 queue message, or None if it is not base64 of UTF-8 text."""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def get_storage() -> Storage:
    """The process-wide ``Storage`` for the current app settings."""
    return _storage_for(load_settings())


def merge_unchanged(table: TableClient, entity: Any, what: str) -> None:
    """Write ``entity`` (read moments ago, then changed) back, conditional on its ETag; if
    someone wrote it in between, ``AlreadyExists`` says to try again (call inside
    ``storage_errors``)."""
    try:
        table.update_entity(
            entity, mode=UpdateMode.MERGE, match_condition=MatchConditions.IfNotModified
        )
    except ResourceModifiedError:
        raise AlreadyExists(f"{what} changed at the same time; run the command again") from None


_TRANSACTION_LIMIT = 100  # Table Storage's cap for one batch


def delete_rows(table: TableClient, partition: str, row_keys: list[str]) -> None:
    """Delete rows of one partition in batches (call inside ``storage_errors``)."""
    for start in range(0, len(row_keys), _TRANSACTION_LIMIT):
        chunk = row_keys[start : start + _TRANSACTION_LIMIT]
        table.submit_transaction(
            [("delete", {"PartitionKey": partition, "RowKey": key}) for key in chunk]
        )
