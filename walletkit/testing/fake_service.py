"""Real HTTP servers on 127.0.0.1 standing in for another service in one service's unit tests.

Real servers, so the pooled client, timeouts, retries and "connection refused" are exercised for real;
only the other service's answers are scripted.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Reply = tuple[int, dict]


@dataclass
class Call:
    method: str
    path: str
    body: dict
    authorization: str


@dataclass
class FakeService:
    """Routes ``(method, path prefix)`` to a function of the call returning (status, json body)."""

    routes: dict[tuple[str, str], Callable[[Call], Reply]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def route(self, method: str, prefix: str, reply: Callable[[Call], Reply] | Reply) -> None:
        self.routes[(method, prefix)] = reply if callable(reply) else (lambda _call, r=reply: r)

    def calls_to(self, method: str, prefix: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.method == method and c.path.startswith(prefix)]

    def handle(self, call: Call) -> Reply:
        with self.lock:
            self.calls.append(call)
        for (method, prefix), reply in sorted(self.routes.items(), key=lambda item: -len(item[0][1])):
            if call.method == method and call.path.startswith(prefix):
                return reply(call)
        return 404, {"code": "not_found", "detail": "no such route in the fake"}


def _handler_class(service: FakeService):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _respond(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            call = Call(self.command, self.path, json.loads(raw) if raw else {}, self.headers.get("Authorization", ""))
            status, body = service.handle(call)
            payload = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        do_GET = do_POST = _respond

        def log_message(self, *args):
            pass

    return Handler


def serve(service: FakeService) -> Iterator[FakeService]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(service))
    server.daemon_threads = True
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service
    server.shutdown()
    server.server_close()


def serve_as(name: str, settings) -> Iterator[FakeService]:
    """A fake standing in for service ``name``: ``settings.SERVICE_URLS[name]`` points at it while it runs
    (``settings``: pytest-django's fixture, which restores the setting after the test)."""
    for service in serve(FakeService()):
        settings.SERVICE_URLS = {**settings.SERVICE_URLS, name: service.url}
        yield service
