"""The channel layer of the gateway (websockets) and of history (the pushes), and what they say on it.

The group and message names below are the contract between history_service, which sends, and the
gateway's websocket consumer, which relays to the browser (API.md, "Websocket"): defined once here.

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


# Channel-layer messages; each ``type`` is also the websocket message's type (the gateway's consumer
# handles "transaction.status" in ``transaction_status``, as channels maps dots to underscores).
TRANSACTION_STATUS = "transaction.status"  # {"type", "transaction": <Transaction shape>}
PAYMENT_REQUEST = "payment_request"  # {"type", "payment_request": <PaymentRequest shape>}
SESSION_END = "session.end"  # {"type"}: the user logged out; the gateway closes the user's sockets


def user_group_name(user_id: int) -> str:
    """The group every websocket of this user joins, and history_service sends the user's pushes to."""
    return f"user_{user_id}"
