"""Websocket fixtures: a fresh Redis channel layer (tokens: walletkit.testing.tokens.user_token)."""

from __future__ import annotations

import pytest
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Each test runs in its own event loop; give it its own channels-redis layer (real Redis)."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
    yield
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)
