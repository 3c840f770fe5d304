"""Status pushes to the gateway's websockets, sent from an event loop each thread keeps.

``async_to_sync`` called from a plain thread runs each call in a new event loop (in a new thread),
and channels-redis keeps its Redis connections per loop: every push opened and closed connections —
the history consumer's largest cost under load (docs/benchmark.md). Here the calling thread keeps one loop, so the
connections stay open; sending stays synchronous and in order. (A background sender thread was
tried: under load it waited on the GIL at every Redis round trip and fell tens of seconds behind.)
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from channels.layers import get_channel_layer

_local = threading.local()


def group_send_all(sends: list[tuple[str, dict[str, Any]]]) -> None:
    """Send each ``(group, message)``, all at once, from this thread's own long-lived event loop."""
    loop = getattr(_local, "loop", None)
    if loop is None:
        loop = _local.loop = asyncio.new_event_loop()
    loop.run_until_complete(_send(sends))


async def _send(sends: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    await asyncio.gather(*(layer.group_send(group, message) for group, message in sends))
