"""A real HTTP server on 127.0.0.1 that serves the fakes in ``fakes.py``.

It offers the part of ``responses.RequestsMock`` the fakes use (``add_callback``), so the same
fake Azure DevOps and Sentry answer calls from another process, such as the local host.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from requests.structures import CaseInsensitiveDict


@dataclass
class LoopbackRequest:
    method: str
    url: str
    path_url: str
    headers: CaseInsensitiveDict
    body: bytes | None
    params: dict[str, str]


class LoopbackRouter:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Any]] = []
        self._lock = threading.Lock()
        router = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                router._serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def add_callback(self, method: str, url: re.Pattern[str], callback: Any) -> None:
        with self._lock:
            self._routes.append((method, url, callback))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        url = self.url.rstrip("/") + handler.path
        request = LoopbackRequest(
            method=handler.command,
            url=url,
            path_url=handler.path,
            headers=CaseInsensitiveDict(dict(handler.headers.items())),
            body=body,
            params=dict(parse_qsl(urlsplit(handler.path).query, keep_blank_values=True)),
        )
        with self._lock:
            routes = list(self._routes)
        for method, pattern, callback in routes:
            if method == handler.command and pattern.match(url):
                status, headers, text = callback(request)
                break
        else:
            status, headers, text = 404, {}, '{"detail": "no fake for this path"}'
        payload = text.encode() if isinstance(text, str) else (text or b"")
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)
