"""Status pushes to the gateway's websockets, sent from one event loop that lives as long as the process.

``async_to_sync`` called from a plain thread runs each call in a new event loop, and channels-redis
keeps its Redis connections per loop: every push opened and closed connections — a third of the
history consumer's CPU under load. Here pushes are queued to one long-lived loop and sent in order.
Best effort, as before: a client that missed one catches up with ``/activity?changed_since=``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class Pusher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._thread: threading.Thread | None = None

    def push(self, groups: list[str], message: dict[str, Any]) -> None:
        """Queue ``message`` for every group; returns at once."""
        loop = self._running_loop()
        loop.call_soon_threadsafe(self._queue.put_nowait, (groups, message))

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                ready = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(ready,), name="status-pusher", daemon=True)
                self._thread.start()
                ready.wait()
            return self._loop

    def _run(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        self._queue = asyncio.Queue()
        ready.set()
        self._loop.run_until_complete(self._send_forever())

    async def _send_forever(self) -> None:
        layer = get_channel_layer()
        while True:
            groups, message = await self._queue.get()
            try:
                for group in groups:
                    await layer.group_send(group, message)
            except Exception:  # noqa: BLE001 — best effort; the next push tries again
                logger.warning("status push failed", exc_info=True)


pusher = Pusher()
