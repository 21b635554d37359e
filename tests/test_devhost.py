"""The local host emulation: loading rules, routes, queue semantics (with a real Azurite)."""

from __future__ import annotations

import base64
import json
import os
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import requests
from azure.storage.queue import QueueClient
from conftest import ROOT, wait_for

from devhost.host import Host, load_host_json
from devhost.http_server import compile_route
from devhost.loader import FunctionLoadError, load_app
from devhost.queues import QueueOptions, timespan_seconds

HOST_JSON = {
    "version": "2.0",
    "extensions": {
        "http": {"routePrefix": "api"},
        "queues": {
            "batchSize": 4,
            "maxDequeueCount": 2,
            "visibilityTimeout": "00:00:00",
            "maxPollingInterval": "00:00:00.200",
            "messageEncoding": "base64",
        },
    },
}


def make_app(tmp_path: Path, functions: dict[str, tuple[dict, str]]) -> Path:
    """An app folder with host.json and the given function folders (function.json, code)."""
    app = tmp_path / f"app{uuid.uuid4().hex[:8]}"
    app.mkdir()
    (app / "host.json").write_text(json.dumps(HOST_JSON))
    for name, (spec, code) in functions.items():
        folder = app / name
        folder.mkdir()
        (folder / "function.json").write_text(json.dumps(spec))
        (folder / "__init__.py").write_text(textwrap.dedent(code))
    return app


@pytest.fixture(autouse=True)
def _forget_app_modules():
    yield
    for name in [n for n in sys.modules if n == "__app__" or n.startswith("__app__.")]:
        del sys.modules[name]


HTTP_SPEC = {
    "bindings": [
        {
            "type": "httpTrigger",
            "direction": "in",
            "name": "req",
            "methods": ["get"],
            "route": "items/{itemId:int}/{rest?}",
        },
        {"type": "http", "direction": "out", "name": "$return"},
    ]
}
HTTP_CODE = """
    import json
    import azure.functions as func

    def main(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(json.dumps({"route": dict(req.route_params), "q": dict(req.params)}),
                                 status_code=201, mimetype="application/json")
"""


def test_loads_this_app(app_env):
    functions = {f.name: f for f in load_app(ROOT)}
    assert set(functions) == {
        "WorkItemWebhook",
        "SyncStatus",
        "SearchIssues",
        "SubscriptionCheck",
        "SentryWebhook",
        "SentryComponents",
        "SentryEvents",
        "ReleaseSync",
        "Console",
    }
    assert functions["SyncStatus"].trigger["queueName"] == "%SYNC_QUEUE_NAME%"


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        (
            {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "my_req"}]},
            "def main(my_req): pass",
            "invalid",
        ),
        (
            {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}]},
            "def main(request): pass",
            "do not match",
        ),
        (
            {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}]},
            "def main(req, extra): pass",
            "do not match",
        ),
        (
            {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}]},
            "def handler(req): pass",
            "main() is not present",
        ),
        (
            {"bindings": [{"type": "http", "direction": "out", "name": "$return"}]},
            "def main(): pass",
            "exactly one trigger",
        ),
        (
            {"bindings": [{"type": "httpTrigger", "direction": "inout", "name": "req"}]},
            "def main(req): pass",
            "not supported",
        ),
        (
            {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "$return"}]},
            "def main(): pass",
            "$return must be",
        ),
        (
            {
                "bindings": [
                    {"type": "httpTrigger", "direction": "in", "name": "req"},
                    {"type": "queue", "direction": "out", "name": "REQ", "queueName": "q"},
                ]
            },
            "def main(req, REQ): pass",
            "used twice",
        ),
        (
            {
                "scriptFile": "run.js",
                "bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}],
            },
            "",
            "not a Python file",
        ),
    ],
)
def test_the_checks_the_host_and_worker_make(tmp_path, spec, code, message):
    app = make_app(tmp_path, {"Broken": (spec, code)})
    with pytest.raises(
        FunctionLoadError, match=message.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")
    ):
        load_app(app)


def test_context_parameter_is_allowed(tmp_path):
    spec = {"bindings": [{"type": "httpTrigger", "direction": "in", "name": "req"}]}
    app = make_app(tmp_path, {"WithContext": (spec, "def main(req, context):\n    return None\n")})
    (function,) = load_app(app)
    assert function.parameters == ["req", "context"]


@pytest.mark.parametrize(
    ("template", "path", "params"),
    [
        ("items/{itemId:int}", "/api/items/42", {"itemId": "42"}),
        ("items/{itemId:int}", "/api/items/abc", None),
        ("items/{itemId}/{rest?}", "/api/items/a", {"itemId": "a", "rest": None}),
        ("files/{*path}", "/api/files/a/b/c", {"path": "a/b/c"}),
        ("Search/{id}", "/api/search/X", {"id": "X"}),
    ],
)
def test_route_templates(template, path, params):
    match = compile_route("api", template).match(path)
    assert (match.groupdict() if match else None) == params


def test_timespans():
    assert timespan_seconds("00:00:30") == 30
    assert timespan_seconds("1.02:00:00.5") == 93600.5
    with pytest.raises(ValueError, match="TimeSpan"):
        timespan_seconds("30s")
    with pytest.raises(ValueError, match="batchSize"):
        QueueOptions.from_host({"batchSize": 64})


def test_app_settings_override_host_json(tmp_path, monkeypatch):
    app = make_app(tmp_path, {})
    monkeypatch.setenv("AzureFunctionsJobHost__extensions__queues__maxDequeueCount", "9")
    assert load_host_json(app)["extensions"]["queues"]["maxDequeueCount"] == "9"


def test_http_trigger_end_to_end(tmp_path, app_env):
    app = make_app(tmp_path, {"Items": (HTTP_SPEC, HTTP_CODE)})
    host = Host(app, port=0)
    host.start()
    try:
        base = f"http://127.0.0.1:{host.http.port}"
        response = requests.get(f"{base}/api/items/7/more?x=1", timeout=10)
        assert response.status_code == 201
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == {"route": {"itemId": "7", "rest": "more"}, "q": {"x": "1"}}
        assert requests.post(f"{base}/api/items/7", timeout=10).status_code == 405
        assert requests.get(f"{base}/api/items/x", timeout=10).status_code == 404
    finally:
        host.stop()


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "\u0661"])
def test_a_malformed_content_length_is_400_not_a_traceback(tmp_path, app_env, caplog, length):
    import socket

    app = make_app(tmp_path, {"Items": (HTTP_SPEC, HTTP_CODE)})
    host = Host(app, port=0)
    host.start()
    try:
        with socket.create_connection(("127.0.0.1", host.http.port), timeout=10) as conn:
            conn.sendall(
                f"GET /api/items/7 HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
            )
            answer = b""
            while chunk := conn.recv(4096):  # the host closes: the body's end was unknown
                answer += chunk
            answer = answer.decode("latin-1")
        assert answer.startswith("HTTP/1.1 400")
        assert answer.endswith('{"error": "Content-Length must be a number"}')
        # A client that hangs up mid-request is one log line, not a traceback.
        with socket.create_connection(("127.0.0.1", host.http.port), timeout=10) as conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.sendall(b"POST /api/items/7 HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        assert requests.get(f"http://127.0.0.1:{host.http.port}/api/items/7", timeout=10).ok
    finally:
        host.stop()
    assert not any(record.exc_info for record in caplog.records if record.name.startswith("devhost"))


QUEUE_CODE = """
    import json
    import azure.functions as func

    SEEN = []

    def main(msg: func.QueueMessage, outMsg: func.Out[str]) -> None:
        body = json.loads(msg.get_body())
        SEEN.append((body, msg.dequeue_count))
        if body.get("fail"):
            raise RuntimeError("failing on purpose")
        outMsg.set(json.dumps({"echo": body}))
"""


def test_queue_trigger_semantics(tmp_path, app_env, monkeypatch):
    queue = f"in-{uuid.uuid4().hex[:8]}"
    out = f"out-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("IN_QUEUE", queue)
    spec = {
        "bindings": [
            {
                "type": "queueTrigger",
                "direction": "in",
                "name": "msg",
                "queueName": "%IN_QUEUE%",
                "connection": "AzureWebJobsStorage",
            },
            {
                "type": "queue",
                "direction": "out",
                "name": "outMsg",
                "queueName": out,
                "connection": "AzureWebJobsStorage",
            },
        ]
    }
    app = make_app(tmp_path, {"Worker": (spec, QUEUE_CODE)})
    host = Host(app, port=0)
    sender = QueueClient.from_connection_string(app_env.connection_string, queue)
    sender.create_queue()
    sender.send_message(base64.b64encode(b'{"n": 1}').decode())
    sender.send_message(base64.b64encode(b'{"fail": true}').decode())
    sender.send_message("this is not base64!")
    host.start()
    try:
        module = sys.modules["__app__.Worker"]
        poison = QueueClient.from_connection_string(app_env.connection_string, f"{queue}-poison")
        outputs = QueueClient.from_connection_string(app_env.connection_string, out)

        def poisoned() -> list[str]:
            try:
                return [m.content for m in poison.peek_messages(max_messages=32)]
            except Exception:  # noqa: BLE001 - not created yet
                return []

        assert wait_for(lambda: len(poisoned()) == 2, timeout=30)
        # The bad base64 message never reached the function; the failing one ran twice.
        assert sorted(poisoned()) == sorted(
            ["this is not base64!", base64.b64encode(b'{"fail": true}').decode()]
        )
        assert sorted(count for body, count in module.SEEN if body.get("fail")) == [1, 2]
        assert [body for body, _ in module.SEEN if "n" in body] == [{"n": 1}]
        (echo,) = outputs.peek_messages()
        assert json.loads(base64.b64decode(echo.content)) == {"echo": {"n": 1}}
        assert wait_for(lambda: not list(sender.peek_messages()), timeout=10)
    finally:
        host.stop()


SLOW_CODE = """
    import time
    import azure.functions as func

    RUNS = []

    def main(msg: func.QueueMessage) -> None:
        RUNS.append(msg.dequeue_count)
        time.sleep(2.5)  # longer than the lease: it must be extended, not handed out again
"""


def test_lease_is_extended_while_the_function_runs(tmp_path, app_env, monkeypatch):
    import devhost.queues

    monkeypatch.setattr(devhost.queues, "LEASE_SECONDS", 1)
    monkeypatch.setattr(devhost.queues, "RENEW_SECONDS", 0.3)
    queue = f"slow-{uuid.uuid4().hex[:8]}"
    spec = {"bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg", "queueName": queue}]}
    app = make_app(tmp_path, {"Slow": (spec, SLOW_CODE)})
    sender = QueueClient.from_connection_string(app_env.connection_string, queue)
    sender.create_queue()
    sender.send_message(base64.b64encode(b"{}").decode())
    # Two hosts poll the queue, as two worker processes would: without the extension the
    # second would take the message while the first still runs it.
    hosts = [Host(app, port=0), Host(app, port=0)]
    for host in hosts:
        host.start()
    try:
        assert wait_for(lambda: sum(h.listeners[0].processed for h in hosts) == 1, timeout=20)
        time.sleep(1.5)  # time for a wrong second delivery to show up
        assert sys.modules["__app__.Slow"].RUNS == [1]
        assert not list(sender.peek_messages())
    finally:
        for host in hosts:
            host.stop()


def test_unreachable_storage_is_said_at_once_and_stopping_is_prompt(tmp_path, caplog):
    """Storage gone (Azurite stopped): the first failed poll names the endpoint, and the
    listener stops when asked instead of sitting in the SDK's 15 s-and-more retries."""
    import socket

    from devhost.queues import QueueListener

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection = (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
        + base64.b64encode(b"k" * 32).decode()
        + f";QueueEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    )
    spec = {"bindings": [{"type": "queueTrigger", "direction": "in", "name": "msg",
                          "queueName": "work", "connection": "AzureWebJobsStorage"}]}  # fmt: skip
    app = make_app(tmp_path, {"Worker": (spec, "def main(msg) -> None:\n    pass\n")})
    (function,) = load_app(app)
    listener = QueueListener(
        function, connection, "work", QueueOptions(max_polling_interval=0.2), lambda *a: None
    )
    caplog.set_level("ERROR", logger="devhost.queues")
    listener.start()
    try:
        wait_for(lambda: listener.unreachable, timeout=20)
        (record,) = [r for r in caplog.records if "storage unreachable" in r.getMessage()]
        assert f"http://127.0.0.1:{port}/devstoreaccount1" in record.getMessage()
        assert "is Azurite running?" in record.getMessage()
    finally:
        listener.stop()
    assert not listener._thread.is_alive()


def test_devhost_says_when_azurite_dies_and_stops(capsys):
    """``make run``'s Azurite exiting under devhost: an error naming it, and a stop."""
    import subprocess
    import threading

    from devhost.__main__ import _watch
    from devhost.azurite import Azurite

    process = subprocess.Popen(
        [sys.executable, "-c", "print('Exiting: port in use'); raise SystemExit(3)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    azurite = Azurite(process=process, ports={}, output=["Exiting: port in use\n"])
    stopping, died = threading.Event(), threading.Event()
    _watch(azurite, stopping, died)
    assert stopping.is_set() and died.is_set()
    err = capsys.readouterr().err
    assert "error: Azurite (127.0.0.1:10000-10002) exited with code 3; devhost stops" in err
    assert "Exiting: port in use" in err


def test_local_settings_edited_while_running_are_in_force_next_time(tmp_path, monkeypatch, caplog):
    from devhost.settings_watch import SettingsWatcher

    path = tmp_path / "local.settings.json"

    def write(values: dict) -> None:
        path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
        stamp = path.stat().st_mtime_ns + 1_000_000  # a distinct mtime, however fast we are
        os.utime(path, ns=(stamp, stamp))

    monkeypatch.setenv("FROM_OUTSIDE", "kept")
    for name in ("ADO_PAT_X", "GONE", "SYNC_QUEUE_NAME"):
        monkeypatch.delenv(name, raising=False)
    write({"ADO_PAT_X": "old", "GONE": "1", "FROM_OUTSIDE": "file", "SYNC_QUEUE_NAME": "q"})
    for name, value in (("ADO_PAT_X", "old"), ("GONE", "1"), ("SYNC_QUEUE_NAME", "q")):
        monkeypatch.setenv(name, value)  # as devhost applied them at start
    watcher = SettingsWatcher(path, frozenset({"SYNC_QUEUE_NAME"}))
    assert watcher.check() == []  # unchanged
    caplog.set_level("WARNING", logger="devhost.settings")
    write({"ADO_PAT_X": "new-token", "FROM_OUTSIDE": "other", "SYNC_QUEUE_NAME": "q2"})
    assert watcher.check() == ["ADO_PAT_X", "GONE", "SYNC_QUEUE_NAME"]
    assert os.environ["ADO_PAT_X"] == "new-token" and "GONE" not in os.environ
    assert os.environ["FROM_OUTSIDE"] == "kept"  # the environment still wins
    said = caplog.text
    assert "ADO_PAT_X, GONE, SYNC_QUEUE_NAME in force from the next invocation" in said
    assert "SYNC_QUEUE_NAME bind the host: restart make run" in said
    assert "new-token" not in said  # names only
    path.write_text("{ not json")
    os.utime(path, ns=(path.stat().st_mtime_ns + 2_000_000,) * 2)
    assert watcher.check() == [] and os.environ["ADO_PAT_X"] == "new-token"
    assert "could not be read" in caplog.text
