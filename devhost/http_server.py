"""HTTP triggers on ``http://127.0.0.1:<port>/<routePrefix>/<route>``, as the host serves them.

Routes follow function.json: ``route`` (default: the function name) with ``{name}``,
``{name?}``, ``{name:constraint}`` and ``{*rest}`` parameters, ``methods`` (default: all).
The request becomes a ``func.HttpRequest``; the function's ``func.HttpResponse`` (returned
through ``$return``) goes back to the client. Keys are not checked, as with Core Tools.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func

from devhost.loader import Function

log = logging.getLogger("devhost.http")
MAX_BODY_BYTES = 100 * 1024 * 1024  # the host's request length limit
_PARAM = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?(\??)\}")
_CONSTRAINTS = {
    "int": r"-?\d+",
    "long": r"-?\d+",
    "guid": r"[0-9a-fA-F-]{32,36}",
    "alpha": r"[A-Za-z]+",
}


@dataclass
class Route:
    function: Function
    pattern: re.Pattern[str]
    methods: frozenset[str] | None
    template: str


def compile_route(prefix: str, template: str) -> re.Pattern[str]:
    parts = [p for p in f"{prefix}/{template}".split("/") if p]
    regex = ""
    for part in parts:
        match = _PARAM.fullmatch(part)
        if not match:
            regex += "/" + re.escape(part)
            continue
        catch_all, name, constraint, optional = match.groups()
        body = ".*" if catch_all else _CONSTRAINTS.get(constraint or "", "[^/]+")
        if optional or catch_all:
            regex += f"(?:/(?P<{name}>{body}))?"
        else:
            regex += f"/(?P<{name}>{body})"
    return re.compile(f"^{regex}/?$", re.IGNORECASE)


def build_routes(functions: list[Function], prefix: str) -> list[Route]:
    routes = []
    for function in functions:
        trigger = function.trigger
        if trigger["type"] != "httpTrigger":
            continue
        template = trigger.get("route") or function.name
        methods = trigger.get("methods")
        routes.append(
            Route(
                function,
                compile_route(prefix, template),
                frozenset(m.upper() for m in methods) if methods else None,
                f"/{prefix}/{template}".replace("//", "/"),
            )
        )
    return routes


class _Server(ThreadingHTTPServer):
    # The stdlib's backlog of 5 makes clients wait for a retransmit (~1 s) as soon as a few
    # more connect at once than threads accept; the Functions host takes many.
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            # A client that went away is not a failure of ours: one line, no traceback.
            log.info("client %s disconnected (%s)", client_address[0], type(error).__name__)
            return
        log.exception("request from %s failed", client_address[0])


class _SharedPortServer(_Server):
    allow_reuse_port = True


class HttpHost:
    def __init__(
        self,
        functions: list[Function],
        prefix: str,
        port: int,
        invoke: Callable[[Function, dict[str, Any]], Any],
        run_now: Callable[[Function, str], None],
        share_port: bool = False,
    ) -> None:
        self.routes = build_routes(functions, prefix)
        self._invoke = invoke
        self._run_now = run_now
        self._others = {f.name.lower(): f for f in functions if f.trigger["type"] != "httpTrigger"}
        handler = self._handler_class()
        # Several worker processes serve one port (FUNCTIONS_WORKER_PROCESS_COUNT); the kernel
        # spreads the connections between them.
        server_class = _SharedPortServer if share_port else _Server
        self.server = server_class(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def _serve(self) -> None:
                host.serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

        return Handler

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        path = unquote(url.path)
        declared = (handler.headers.get("Content-Length") or "0").strip()
        if not (declared.isascii() and declared.isdigit()):
            handler.close_connection = True  # the body's end is unknown
            self._send(handler, 400, {}, b'{"error": "Content-Length must be a number"}')
            return
        length = int(declared)
        if length > MAX_BODY_BYTES:
            self._send(handler, 413, {}, b"request body too large")
            return
        body = handler.rfile.read(length) if length else b""
        admin = re.fullmatch(r"/admin/functions/([^/]+)", path, re.IGNORECASE)
        if admin and handler.command == "POST":
            self._admin_run(handler, admin[1], body)
            return
        allowed = False
        for route in self.routes:
            match = route.pattern.match(path)
            if not match:
                continue
            if route.methods is not None and handler.command not in route.methods:
                allowed = True
                continue
            request = func.HttpRequest(
                handler.command,
                f"http://{handler.headers.get('Host', '127.0.0.1')}{handler.path}",
                headers=dict(handler.headers.items()),
                params=dict(parse_qsl(url.query, keep_blank_values=True)),
                route_params={k: v for k, v in match.groupdict().items() if v is not None},
                body=body,
            )
            param = route.function.trigger["name"]
            try:
                response = self._invoke(route.function, {param: request})
            except Exception:
                log.exception("function %s failed", route.function.name)
                self._send(handler, 500, {}, b"")
                return
            self._respond(handler, response)
            return
        self._send(handler, 405 if allowed else 404, {}, b"")

    def _admin_run(self, handler: BaseHTTPRequestHandler, name: str, body: bytes) -> None:
        """Core Tools' way to run a non-HTTP function by hand: ``{"input": "..."}`` -> 202."""
        function = self._others.get(name.lower())
        if function is None:
            self._send(handler, 404, {}, b"")
            return
        try:
            given = json.loads(body or b"{}").get("input", "")
        except (ValueError, AttributeError):
            self._send(handler, 400, {}, b'{"error": "the body must be a JSON object with input"}')
            return

        def run() -> None:
            try:
                self._run_now(function, str(given))
            except Exception:
                log.exception("function %s failed", function.name)

        threading.Thread(target=run, daemon=True).start()
        self._send(handler, 202, {}, b"")

    def _respond(self, handler: BaseHTTPRequestHandler, response: Any) -> None:
        if response is None:
            self._send(handler, 204, {}, b"")  # the 2.x+ host's answer for no output
            return
        if isinstance(response, str):
            response = func.HttpResponse(response)
        headers = dict(response.headers.items())
        if "content-type" not in {k.lower() for k in headers}:
            charset = (
                f"; charset={response.charset}" if response.mimetype.startswith("text/") else ""
            )
            headers["Content-Type"] = response.mimetype + charset
        self._send(handler, response.status_code, headers, response.get_body() or b"")

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
