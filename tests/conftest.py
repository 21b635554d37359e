"""Test fixtures: one real Azurite per session, isolated tables and queue per test.

Azurite (from node_modules, installed by `make test`) listens on free loopback ports chosen by
the OS, in memory, with telemetry off. Each test gets its own table prefix and queue name, so
tests never see each other's data and can run in any order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devhost.azurite import Azurite  # noqa: E402


def _start_azurite() -> Azurite:
    from devhost.azurite import start_azurite

    try:
        return start_azurite(ROOT)
    except FileNotFoundError as exc:
        pytest.exit(str(exc), returncode=3)


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    server = _start_azurite()
    yield server
    server.stop()


@dataclass
class AppEnv:
    connection_string: str
    queue_name: str
    table_prefix: str
    secrets: list[str]

    @property
    def sentry_queue_name(self) -> str:
        return "sentry-" + self.queue_name.removeprefix("sync-")

    @property
    def release_queue_name(self) -> str:
        return "releases-" + self.queue_name.removeprefix("sync-")

    def storage(self):
        from shared.store.storage import get_storage

        return get_storage()

    def queued(self, queue_name: str | None = None) -> list[dict]:
        """Messages on the sync queue (or another), decoded the way a queue trigger does."""
        from azure.storage.queue import QueueClient

        client = QueueClient.from_connection_string(
            self.connection_string, queue_name or self.queue_name
        )
        try:
            messages = client.peek_messages(max_messages=32)
        except Exception:  # noqa: BLE001 - no queue yet means no messages
            return []
        return [json.loads(base64.b64decode(m.content)) for m in messages]


@pytest.fixture
def app_env(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[AppEnv]:
    """App settings pointing at fresh tables and a fresh queue in the session's Azurite.

    At teardown it checks that no log line of the test contains a secret or token the test
    registered in ``env.secrets``.
    """
    caplog.set_level(logging.DEBUG)
    # The SDK's request/response dumps (already redacted) drown everything else out.
    caplog.set_level(logging.WARNING, "azure.core.pipeline.policies.http_logging_policy")
    suffix = uuid.uuid4().hex[:10]
    env = AppEnv(
        connection_string=azurite.connection_string,
        queue_name=f"sync-{suffix}",
        table_prefix=f"t{suffix}",
        secrets=[],
    )
    monkeypatch.setenv("AzureWebJobsStorage", env.connection_string)
    monkeypatch.setenv("SYNC_QUEUE_NAME", env.queue_name)
    monkeypatch.setenv("SENTRY_QUEUE_NAME", f"sentry-{suffix}")
    monkeypatch.setenv("RELEASE_QUEUE_NAME", f"releases-{suffix}")
    monkeypatch.setenv("TABLE_PREFIX", env.table_prefix)
    from shared.store.integrations import forget_cached_integrations

    forget_cached_integrations()
    from shared.devops_intake.work_item_updated import forget_linked

    forget_linked()
    _only_ranges(monkeypatch)
    yield env
    text = "\n".join(record.getMessage() for record in caplog.records)
    for secret in env.secrets:
        assert secret not in text, "a secret appeared in the logs"


# The query shapes Table Storage answers from its index: a point read (get_entity) or one
# RowKey range of one partition, possibly with a column filter on top. Azure documents that
# an ``or`` on RowKey, or a partition with no RowKey bound, is a scan of the partition; Azurite
# does not show the cost. The one scan allowed builds the integration index, once.
_RANGE_SHAPES = (
    re.compile(r"^PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi( and [A-Za-z]+ (eq|lt|ge|gt) @\w+)?$"),
    re.compile(r"^PartitionKey eq @pk and RowKey gt @cut$"),
    re.compile(r"^RowKey eq @rk$"),  # Integrations._build_index, when the index is empty
)


def _only_ranges(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every query the code sends has a range shape (a test fails on any other)."""
    from azure.data.tables import TableClient

    query = TableClient.query_entities

    def checked(self, query_filter: str, **kwargs):  # type: ignore[no-untyped-def]
        import traceback

        caller = traceback.extract_stack()[-2]
        if "/shared/" in caller.filename:  # the app's queries; tests may look as they like
            assert any(shape.match(query_filter) for shape in _RANGE_SHAPES), (
                f"a query that scans: {query_filter!r} ({caller.filename}:{caller.lineno})"
            )
            if query_filter.startswith("RowKey eq"):
                assert caller.name == "_build_index", "a table scan outside the index build"
        return query(self, query_filter, **kwargs)

    monkeypatch.setattr(TableClient, "query_entities", checked)


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


# -- the app under test ----------------------------------------------------------------------

DEFAULT_ORG = "acme"


@dataclass
class Registered:
    id: str
    secret: str
    pat: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    client_secrets: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def stores(app_env: AppEnv):
    from fakes import Stores

    return Stores(app_env.storage())


@pytest.fixture
def register(app_env: AppEnv, stores, monkeypatch: pytest.MonkeyPatch):
    """Register an integration (with one Sentry organization) and remember its secret."""

    def _register(
        collection_id: str | None = None,
        base_url: str = "https://dev.azure.com/contoso/",
        orgs: tuple[str, ...] = (DEFAULT_ORG,),
        resolution: str = "resolved",
        sentry_base_url: str | None = None,
    ) -> Registered:
        collection_id = collection_id or str(uuid.uuid4())
        pat = f"pat-{uuid.uuid4().hex}"
        monkeypatch.setenv("ADO_PAT", pat)
        app_env.secrets.append(pat)
        integration, secret = stores.integrations.add(
            collection_id,
            name="Contoso",
            base_url=base_url,
            pat_setting="ADO_PAT",
            resolution=resolution,
        )
        app_env.secrets.append(secret)
        registered = Registered(integration.id, secret, pat)
        for slug in orgs:
            token = f"sntrys_{uuid.uuid4().hex}"
            setting = f"SENTRY_TOKEN_{slug.upper().replace('-', '_')}"
            monkeypatch.setenv(setting, token)
            app_env.secrets.append(token)
            registered.tokens[slug] = token
            client_secret = uuid.uuid4().hex
            secret_setting = f"SENTRY_CLIENT_SECRET_{slug.upper().replace('-', '_')}"
            monkeypatch.setenv(secret_setting, client_secret)
            app_env.secrets.append(client_secret)
            registered.client_secrets[slug] = client_secret
            stores.sentry_orgs.add(
                integration.id,
                slug=slug,
                base_url=sentry_base_url or f"https://{slug}.sentry.example/",
                token_setting=setting,
                client_secret_setting=secret_setting,
            )
        return registered

    return _register


def basic_auth(secret: str, user: str = "azure-devops") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def sentry_signature(secret: str, body: bytes) -> str:
    """What Sentry sends as Sentry-Hook-Signature / Sentry-App-Signature: HMAC-SHA256, hex."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sentry_hook_headers(secret: str, body: bytes, resource: str, request_id: str) -> dict:
    """The headers of a signed Sentry webhook delivery, sent now."""
    return {
        "Content-Type": "application/json",
        "Request-ID": request_id,
        "Sentry-Hook-Resource": resource,
        "Sentry-Hook-Timestamp": str(int(time.time())),
        "Sentry-Hook-Signature": sentry_signature(secret, body),
    }


def http_post(body: bytes | dict | list, headers: dict[str, str] | None = None):
    """Call WorkItemWebhook.main() the way the Functions host would."""
    import azure.functions as func

    import WorkItemWebhook

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = func.HttpRequest(
        "POST",
        "http://localhost:7071/api/workitems/webhook",
        headers={"Content-Type": "application/json", **(headers or {})},
        params={},
        body=raw,
    )
    return WorkItemWebhook.main(request)


def reply_json(response) -> dict:
    return json.loads(response.get_body())


# -- outside services ------------------------------------------------------------------------


@pytest.fixture
def rsps():
    """`responses` for Azure DevOps and Sentry; only Azurite (127.0.0.1) is passed through."""
    import responses

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru("http://127.0.0.1:")
        yield mock


class FakeClock(list):
    """Records the waits the clients ask for and moves a fake clock instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    def pause(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    import shared.http

    fake = FakeClock()
    monkeypatch.setattr(shared.http, "pause", fake.pause)
    monkeypatch.setattr(shared.http, "clock", lambda: fake.now)
    return fake
