"""HTTP helpers for service tests: DRF test clients holding a bearer token, and a URL nobody answers."""

from __future__ import annotations

import socket

from rest_framework.test import APIClient

from walletkit.testing.tokens import user_token


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def user_client(user_id: int, *, is_staff: bool = False) -> APIClient:
    """A client signed in as ``user_id`` with a real access token."""
    return client_with(user_token(user_id, is_staff=is_staff))


def closed_port_url() -> str:
    """A loopback URL nothing listens on (bound, then released): connections are refused, so a request
    never reaches anyone."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
