"""The emulated host: settings, function loading, invocation, HTTP server and queue listeners."""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest

from devhost.http_server import HttpHost
from devhost.loader import Function, FunctionLoadError, load_app
from devhost.queues import QueueListener, QueueOptions, send_output
from devhost.settings_watch import SettingsWatcher
from shared.errors import ConfigurationError
from shared.settings import apply_local_settings

log = logging.getLogger("devhost")
HOST_OVERRIDE_PREFIX = "AzureFunctionsJobHost__"
_SETTING_REFERENCE = re.compile(r"%([^%]+)%")


def load_local_settings(app_root: Path) -> dict[str, Any]:
    """Put ``local.settings.json`` Values into the environment; real variables win."""
    try:
        return apply_local_settings(app_root / "local.settings.json")
    except ConfigurationError as exc:
        raise FunctionLoadError(str(exc)) from None


def load_host_json(app_root: Path) -> dict[str, Any]:
    """host.json, with ``AzureFunctionsJobHost__a__b`` app settings applied on top."""
    config = json.loads((app_root / "host.json").read_text(encoding="utf-8"))
    if config.get("version") != "2.0":
        raise FunctionLoadError('host.json must say "version": "2.0"')
    for name, value in os.environ.items():
        if not name.startswith(HOST_OVERRIDE_PREFIX):
            continue
        path = name[len(HOST_OVERRIDE_PREFIX) :].split("__")
        node = config
        for part in path[:-1]:
            key = next((k for k in node if k.lower() == part.lower()), part)
            node = node.setdefault(key, {})
        key = next((k for k in node if k.lower() == path[-1].lower()), path[-1])
        node[key] = value
    return config


def resolve(value: str) -> str:
    """``%Setting%`` binding expressions, resolved from app settings."""

    def lookup(match: re.Match[str]) -> str:
        name = match[1]
        if name not in os.environ:
            raise FunctionLoadError(f"app setting {name} (used as %{name}%) is not set")
        return os.environ[name]

    return _SETTING_REFERENCE.sub(lookup, value)


def connection(binding: dict[str, Any]) -> str:
    name = binding.get("connection") or "AzureWebJobsStorage"
    value = os.environ.get(name) or os.environ.get(f"AzureWebJobs{name}")
    if not value:
        raise FunctionLoadError(f"connection app setting {name} is not set")
    return value


@dataclass
class Context:
    """The ``context`` parameter a function may ask for."""

    invocation_id: str
    function_name: str
    function_directory: str


class _Out:
    """A ``func.Out`` for output bindings."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, value: Any) -> None:
        self._value = value

    def get(self) -> Any:
        return self._value


class Host:
    def __init__(self, app_root: Path, port: int = 7071, share_port: bool = False) -> None:
        self.app_root = app_root.resolve()
        load_local_settings(self.app_root)
        self.config = load_host_json(self.app_root)
        extensions = self.config.get("extensions", {})
        self.route_prefix = str(extensions.get("http", {}).get("routePrefix", "api")).strip("/")
        self.queue_options = QueueOptions.from_host(extensions.get("queues", {}))
        self.functions = [
            function
            for function in load_app(self.app_root)
            # The host's switch for turning a function off without touching its folder.
            if os.environ.get(f"AzureWebJobs.{function.name}.Disabled", "").lower() != "true"
        ]
        self.http = HttpHost(
            self.functions, self.route_prefix, port, self.invoke, self.run_now, share_port
        )
        self.listeners = [
            QueueListener(
                function,
                connection(function.trigger),
                resolve(function.trigger["queueName"]),
                self.queue_options,
                self.invoke,
            )
            for function in self.functions
            if function.trigger["type"] == "queueTrigger"
        ]
        # Settings a trigger names (%SYNC_QUEUE_NAME%) are bound once, as the host binds them.
        named = {
            name
            for function in self.functions
            for binding in function.bindings
            for value in binding.values()
            if isinstance(value, str)
            for name in _SETTING_REFERENCE.findall(value)
        }
        self.settings_watch = SettingsWatcher(
            self.app_root / "local.settings.json", frozenset(named)
        )
        unsupported = [
            f"{f.name}: {b['type']}"
            for f in self.functions
            for b in f.bindings
            if b["type"] not in ("httpTrigger", "http", "queueTrigger", "queue", "timerTrigger")
        ]
        if unsupported:
            raise FunctionLoadError(f"binding types the emulation does not support: {unsupported}")

    def invoke(self, function: Function, trigger_args: dict[str, Any]) -> Any:
        args = dict(trigger_args)
        outputs = {binding["name"]: _Out() for binding in function.outputs("queue")}
        args.update(outputs)
        if "context" in function.parameters:
            args["context"] = Context(str(uuid.uuid4()), function.name, str(function.folder))
        result = function.entry(**args)
        for binding in function.outputs("queue"):
            value = outputs[binding["name"]].get()
            if value is not None:
                send_output(
                    connection(binding),
                    resolve(binding["queueName"]),
                    value,
                    self.queue_options.message_encoding,
                )
        return result

    def run_now(self, function: Function, given: str) -> None:
        """What ``POST /admin/functions/<Name>`` does for a non-HTTP function: run it once
        with the given input (timers are not scheduled by this emulation)."""
        trigger = function.trigger
        if trigger["type"] == "timerTrigger":
            argument: Any = TimerRequest(past_due=False)
        else:
            argument = QueueMessage(id=str(uuid.uuid4()), body=given.encode(), dequeue_count=1)
        self.invoke(function, {trigger["name"]: argument})

    def start(self) -> None:
        self.settings_watch.start()
        self.http.start()
        for listener in self.listeners:
            listener.start()

    def stop(self) -> None:
        # Every queue stops polling at once; then each finishes what it is running.
        for listener in self.listeners:
            listener.signal()
        for listener in self.listeners:
            listener.stop()
        self.http.stop()
        self.settings_watch.stop()

    def describe(self) -> list[str]:
        lines = []
        for route in self.http.routes:
            methods = ",".join(sorted(route.methods)) if route.methods else "ANY"
            lines.append(
                f"  {route.function.name}: [{methods}] http://127.0.0.1:{self.http.port}{route.template}"
            )
        for listener in self.listeners:
            lines.append(f"  {listener.function.name}: queueTrigger on {listener.queue_name}")
        for function in self.functions:
            if function.trigger["type"] == "timerTrigger":
                lines.append(
                    f"  {function.name}: timerTrigger {function.trigger.get('schedule')} (not "
                    f"scheduled here; POST /admin/functions/{function.name} runs it)"
                )
        return lines
