"""A small threaded HTTP API server on loopback for connector tests: auth check, JSON, planned faults."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Raw:
    """A response body that is not JSON (e.g. Bulk API CSV results)."""

    content: bytes
    content_type: str


@dataclass
class Faults:
    """Deterministic faults by request number (1-based, counting every request, retries included).

    every: {status: n} answers every n-th request with that status (first match wins);
    retry_after: the Retry-After header sent with 429s (None: none);
    outage_after_pages: after that many successful data responses, answer 503 to everything.
    """

    every: dict[int, int] = field(default_factory=dict)
    retry_after: str | None = "0"
    outage_after_pages: int | None = None


class ApiServer:
    """Subclasses implement `route(method, path, query, headers) -> (status, body, headers)`.

    The body is JSON-serialisable, a `Raw`, or None (no content). Routes run under `self.lock`, and the
    current request's body is `self.request_body` (bytes).
    """

    def __init__(self, token: str, faults: Faults | None = None):
        self.token = token
        self.faults = faults or Faults()
        self.lock = threading.RLock()
        self.request_count = 0
        self.pages_served = 0
        self.statuses: list[int] = []
        self.paths: list[str] = []
        self.request_body = b""
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- to implement -----------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, list[str]], headers) -> tuple[int, Any, dict]:
        raise NotImplementedError

    def unauthorized(self) -> tuple[int, Any, dict]:
        return 401, {"error": "unauthorized"}, {}

    def fault_body(self, status: int) -> Any:
        return {"error": f"HTTP {status}"}

    # -- machinery --------------------------------------------------------------------------------
    def _planned_fault(self) -> int | None:
        f = self.faults
        if f.outage_after_pages is not None and self.pages_served >= f.outage_after_pages:
            return 503
        for status, n in f.every.items():
            if n and self.request_count % n == 0:
                return status
        return None

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request_body = handler.rfile.read(length) if length else b""
        with self.lock:
            self.request_body = request_body
            self.request_count += 1
            self.paths.append(parts.path)
            if handler.headers.get("Authorization") != f"Bearer {self.token}":
                status, body, headers = self.unauthorized()
            elif (fault := self._planned_fault()) is not None:
                status, body = fault, self.fault_body(fault)
                headers = (
                    {"Retry-After": self.faults.retry_after}
                    if fault == 429 and self.faults.retry_after
                    else {}
                )
            else:
                status, body, headers = self.route(
                    handler.command, parts.path, parse_qs(parts.query), handler.headers
                )
                if status == 200:
                    self.pages_served += 1
            self.statuses.append(status)
        if isinstance(body, Raw):
            payload, content_type = body.content, body.content_type
        elif body is None:
            payload, content_type = b"", None
        else:
            payload, content_type = json.dumps(body).encode(), "application/json"
        handler.send_response(status)
        if content_type:
            handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(payload)

    def start(self) -> str:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.handle(self)

            do_POST = do_PATCH = do_DELETE = do_GET  # noqa: N815

            def log_message(self, *args):  # keep pytest output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
