"""The channel layer of the gateway (websockets) and of history (the pushes).

channels-redis waits for a message with a 5 s blocking pop, and redis-py 8 reads every socket with
a 5 s timeout by default: when the read times out first, ``receive`` raises ``TimeoutError`` and
the idle websocket's consumer dies. Here an idle read that timed out just waits again.

Unless the task is being cancelled: on Python 3.11 a cancellation that arrives during redis-py's
timed read can be swallowed, and surfaces only as that read's timeout. Retrying then would wait
forever (a closed socket's consumer never ending; raising the socket timeout had the same effect).
"""

from __future__ import annotations

import asyncio

from channels_redis.core import RedisChannelLayer
from redis.exceptions import TimeoutError as RedisTimeoutError


class ChannelLayer(RedisChannelLayer):
    async def receive(self, channel):
        while True:
            try:
                return await super().receive(channel)
            except RedisTimeoutError:
                if asyncio.current_task().cancelling():
                    raise asyncio.CancelledError from None  # the cancellation the timed read swallowed
                # nothing arrived while the socket was idle: keep waiting
