"""Gateway test fixtures: users, tokens, and a real HTTP server standing in for the services behind."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django_otp.plugins.otp_totp import models as totp_models
from rest_framework.test import APIClient

from accounts.tests import totp
from accounts.tokens import TokenObtainSerializer
from walletkit.testing import clients

PASSWORD = "correct-horse-battery-staple"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: object

    @property
    def claims(self) -> dict:
        token = self.headers["Authorization"].removeprefix("Bearer ")
        return jwt.decode(token, options={"verify_signature": False})


@dataclass
class Downstream:
    """Scripted answers per (method, path); records every request it receives."""

    url: str
    routes: dict[tuple[str, str], tuple[int, object] | Callable] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def answer(self, method: str, path: str, status: int, body: object = None, headers: dict | None = None) -> None:
        self.routes[(method, path)] = (status, body, headers or {})


def _handler(downstream: Downstream):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            recorded = Recorded(
                self.command, parts.path, dict(parse_qsl(parts.query)), dict(self.headers),
                json.loads(raw) if raw else None,
            )  # fmt: skip
            downstream.requests.append(recorded)
            route = downstream.routes.get((self.command, parts.path))
            status, body, *extra = route(recorded) if callable(route) else route or (404, {"code": "not_found"})
            payload = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/html")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (extra[0] if extra else {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _serve

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def downstream(settings) -> Iterator[Downstream]:
    """Every service URL points at one real HTTP server on a free loopback port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    fake = Downstream(url=f"http://127.0.0.1:{server.server_port}")
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SERVICE_URLS = {name: fake.url for name in ("transaction", "wallet", "ledger", "history")}
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    return clients.closed_port_url()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters live in Redis, which outlives a test's database rollback."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def user_make(db):
    def make(username: str = "alice", email: str | None = None, password: str = PASSWORD, **extra):
        return get_user_model().objects.create_user(
            username=username, email=email or f"{username}@example.com", password=password, **extra
        )

    return make


@pytest.fixture
def user(user_make):
    return user_make()


def access_token_for(user) -> str:
    return str(TokenObtainSerializer.get_token(user).access_token)


@pytest.fixture
def authed(client, user) -> APIClient:
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return client


@pytest.fixture
def clock(monkeypatch) -> SimpleNamespace:
    """The time django-otp checks TOTP codes at, frozen (accounts.tests.totp); tests move ``now``."""
    frozen = SimpleNamespace(now=totp.NOW)
    monkeypatch.setattr(totp_models, "time", SimpleNamespace(time=lambda: frozen.now))
    return frozen


@pytest.fixture
def mailbox(settings, tmp_path):
    """The file backend the gateway uses when EMAIL_URL is unset (pytest-django would swap in locmem)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    return tmp_path / "mail"
