"""Websocket fixtures: RS256 access tokens signed with the session's key, a fresh Redis channel layer."""

from __future__ import annotations

import os
import time
from pathlib import Path

import jwt
import pytest
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers


def access_token(user_id: int, *, seconds: float = 300, token_type: str = "access") -> str:
    key = (Path(os.environ["WALLET_DATA_DIR"]) / "keys" / "jwt_private.pem").read_text()
    claims = {"user_id": user_id, "token_type": token_type, "is_staff": False, "exp": int(time.time() + seconds)}
    return jwt.encode(claims, key, algorithm="RS256")


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test runs in its own event loop; give it its own channels-redis layer (real Redis)."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    yield
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
