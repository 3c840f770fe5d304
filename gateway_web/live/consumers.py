"""``/ws/transactions/``: one JSON message per status change of any transaction of the user's wallets.

Protocol:
- Authenticated by the ``access_token`` cookie or the Django session; otherwise the first
  message must be ``{"type": "auth", "token": "<access token>"}`` within
  ``LIVE_AUTH_TIMEOUT_SECONDS`` (default 5). Success: ``{"type": "auth.ok"}``. A bad or expired
  token, a first message that is not auth, or no auth in time: the socket closes with 4401.
- The socket closes with 4401 when the token expires; sending a fresh token
  (``{"type": "auth", ...}`` again, same user) before then keeps it open.
- Messages: ``{"type": "transaction.status", "transaction": {...transaction, counterparty...}}``, relayed from
  the channel-layer group ``user_<id>`` that history_service publishes to after each commit; and
  ``{"type": "payment_request", "payment_request": {...}}`` at every change of a payment request the
  user is a party to (the same group; history_service relays transaction_service's event).
- Logout (API or page) closes every socket of the user with 4401 (``session.end`` on the group).

Catch-up: pushes are best effort (a socket that was down missed them). A reconnecting client
calls ``GET /api/v1/activity?changed_since=<last seen time>`` — the latest ``updated_at`` it saw,
minus a few seconds of slack — and gets every history entry that changed since.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from api.people import transactions_name_counterparties
from live.auth import AccessTokenCookieMiddleware, InvalidToken, LiveIdentity, identity_from_token
from walletkit.channels import PAYMENT_REQUEST, TRANSACTION_STATUS, user_group_name

CLOSE_UNAUTHENTICATED = 4401
DEFAULT_AUTH_TIMEOUT_SECONDS = 5.0
log = logging.getLogger(__name__)


def _named_now(transaction: dict, *, user_id: int) -> dict:
    """The push carries the counterparty's username as it is now, like the REST answers (api.people)."""
    try:
        return transactions_name_counterparties([dict(transaction)], user_id=user_id)[0]
    except Exception:  # a push is best effort: without the name rather than not at all
        log.warning("counterparty not named on a push", exc_info=True)
        return transaction


# In the event loop's thread pool (each thread keeps its database connection), not thread-sensitive:
# that would run every socket's naming, one push after another, in asgiref's one shared thread.
_named = database_sync_to_async(_named_now, thread_sensitive=False)


class TransactionStatusConsumer(AsyncJsonWebsocketConsumer):
    user_id: int | None = None
    _auth_deadline: asyncio.Task | None = None
    _token_expiry: asyncio.Task | None = None

    async def connect(self):
        await self.accept()
        identity = self.scope.get("live_identity")
        if identity == AccessTokenCookieMiddleware.INVALID:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        elif isinstance(identity, LiveIdentity):
            await self._authenticated(identity)
        else:
            timeout = float(getattr(settings, "LIVE_AUTH_TIMEOUT_SECONDS", DEFAULT_AUTH_TIMEOUT_SECONDS))
            self._auth_deadline = asyncio.create_task(self._close_after(timeout))

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        try:
            content = json.loads(text_data) if text_data is not None else None
        except ValueError:
            content = None
        await self.receive_json(content if isinstance(content, dict) else {})

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "auth":
            await self._authenticate_by_message(content.get("token"))
        elif self.user_id is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
        # Anything else from an authenticated client is ignored: the stream is server → client.

    async def disconnect(self, code):
        for task in (self._auth_deadline, self._token_expiry):
            if task is not None:
                task.cancel()
        if self.user_id is not None:
            await self.channel_layer.group_discard(user_group_name(self.user_id), self.channel_name)

    async def transaction_status(self, event):
        transaction = await _named(event["transaction"], user_id=self.user_id)
        await self.send_json({"type": TRANSACTION_STATUS, "transaction": transaction})

    async def payment_request(self, event):
        await self.send_json({"type": PAYMENT_REQUEST, "payment_request": event["payment_request"]})

    async def session_end(self, event):
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def _authenticate_by_message(self, token) -> None:
        try:
            identity = identity_from_token(token)
        except InvalidToken:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if self.user_id is not None and identity.user_id != self.user_id:
            await self.close(code=CLOSE_UNAUTHENTICATED)  # a socket never changes whose events it carries
            return
        await self._authenticated(identity)

    async def _authenticated(self, identity: LiveIdentity) -> None:
        if self._auth_deadline is not None:
            self._auth_deadline.cancel()
        self.user_id = identity.user_id
        # Joined on every (re-)auth: it also refreshes the membership's expiry in Redis.
        await self.channel_layer.group_add(user_group_name(identity.user_id), self.channel_name)
        if self._token_expiry is not None:
            self._token_expiry.cancel()
            self._token_expiry = None
        if identity.expires_at is not None:
            self._token_expiry = asyncio.create_task(self._close_after(identity.expires_at - time.time()))
        await self.send_json({"type": "auth.ok"})

    async def _close_after(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0))
        await self.close(code=CLOSE_UNAUTHENTICATED)
