"""/ws/transactions/ against config.asgi.application with the real Redis channel layer."""

from __future__ import annotations

import asyncio
import uuid

import jwt
import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.backends.db import SessionStore
from django.utils.http import urlsafe_base64_encode
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.tokens import session_start
from config.asgi import application
from live.consumers import CLOSE_UNAUTHENTICATED
from walletkit.testing.tokens import user_token

DEADLINE = 10.0
ORIGIN = (b"origin", b"http://testserver")


def communicator(*, cookie: str | None = None, origin: bytes | None = b"http://testserver") -> WebsocketCommunicator:
    headers = [(b"origin", origin)] if origin else []
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/transactions/", headers=headers)


def status_message(transaction_id: str, status: str = "SUCCESS") -> dict:
    return {"type": "transaction.status", "transaction": {"id": transaction_id, "status": status}}


def named(message: dict) -> dict:
    """As the socket sends it: the gateway adds the counterparty (none for these bare pushes)."""
    return message | {"transaction": message["transaction"] | {"counterparty": None}}


async def connected_by_message(user_id: int) -> WebsocketCommunicator:
    socket = communicator()
    connected, _ = await socket.connect(timeout=DEADLINE)
    assert connected
    await socket.send_json_to({"type": "auth", "token": user_token(user_id)})
    assert await socket.receive_json_from(timeout=DEADLINE) == {"type": "auth.ok"}
    return socket


async def closed_code(socket: WebsocketCommunicator) -> int:
    output = await socket.receive_output(timeout=DEADLINE)
    assert output["type"] == "websocket.close", output
    return output["code"]


def test_first_message_auth_then_the_users_group_reaches_the_socket():
    async def scenario():
        socket = await connected_by_message(101)
        transaction_id = str(uuid.uuid4())

        await get_channel_layer().group_send("user_101", status_message(transaction_id))

        assert await socket.receive_json_from(timeout=DEADLINE) == named(status_message(transaction_id))
        await socket.disconnect()

    async_to_sync(scenario)()


def test_another_users_socket_never_receives_the_message():
    async def scenario():
        alice, carol = await connected_by_message(111), await connected_by_message(113)
        for_alice, for_carol = str(uuid.uuid4()), str(uuid.uuid4())

        await get_channel_layer().group_send("user_111", status_message(for_alice))
        await get_channel_layer().group_send("user_113", status_message(for_carol))

        # Carol's socket is FIFO: had Alice's message leaked to it, it would arrive first.
        assert (await carol.receive_json_from(timeout=DEADLINE))["transaction"]["id"] == for_carol
        assert (await alice.receive_json_from(timeout=DEADLINE))["transaction"]["id"] == for_alice
        await alice.disconnect()
        await carol.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        user_token(121, seconds=-60),  # expired
        user_token(121, token_type="refresh"),
        jwt.encode({"user_id": 121, "token_type": "access", "exp": 4102444800}, "x" * 32, algorithm="HS256"),
        None,
    ],
    ids=["garbage", "expired", "refresh-token", "wrong-key", "missing"],
)
def test_a_bad_token_closes_the_socket_with_4401(token):
    async def scenario():
        socket = communicator()
        connected, _ = await socket.connect(timeout=DEADLINE)
        assert connected
        await socket.send_json_to({"type": "auth", "token": token})

        assert await closed_code(socket) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


def test_a_first_message_that_is_not_auth_closes_with_4401():
    async def scenario():
        socket = communicator()
        await socket.connect(timeout=DEADLINE)
        await socket.send_to(text_data="hello")

        assert await closed_code(socket) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


def test_no_auth_in_time_closes_with_4401(settings):
    settings.LIVE_AUTH_TIMEOUT_SECONDS = 0.2

    async def scenario():
        socket = communicator()
        connected, _ = await socket.connect(timeout=DEADLINE)
        assert connected

        assert await closed_code(socket) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


def test_the_socket_closes_when_the_token_expires():
    async def scenario():
        socket = communicator()
        await socket.connect(timeout=DEADLINE)
        await socket.send_json_to({"type": "auth", "token": user_token(131, seconds=2)})
        assert await socket.receive_json_from(timeout=DEADLINE) == {"type": "auth.ok"}

        assert await closed_code(socket) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


def test_the_access_token_cookie_authenticates_without_a_message():
    async def scenario():
        socket = communicator(cookie=f"access_token={user_token(141)}")
        connected, _ = await socket.connect(timeout=DEADLINE)
        assert connected
        assert await socket.receive_json_from(timeout=DEADLINE) == {"type": "auth.ok"}
        transaction_id = str(uuid.uuid4())

        await get_channel_layer().group_send("user_141", status_message(transaction_id, "RESERVED"))

        assert await socket.receive_json_from(timeout=DEADLINE) == named(status_message(transaction_id, "RESERVED"))
        await socket.disconnect()

    async_to_sync(scenario)()


def test_an_expired_cookie_token_closes_with_4401():
    async def scenario():
        socket = communicator(cookie=f"access_token={user_token(151, seconds=-5)}")
        await socket.connect(timeout=DEADLINE)

        assert await closed_code(socket) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


def test_a_token_in_the_url_is_not_accepted(settings):
    settings.LIVE_AUTH_TIMEOUT_SECONDS = 0.2

    async def scenario():
        socket = WebsocketCommunicator(application, f"/ws/transactions/?token={user_token(161)}", headers=[ORIGIN])
        await socket.connect(timeout=DEADLINE)

        assert await closed_code(socket) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


def test_a_foreign_origin_is_refused():
    async def scenario():
        socket = communicator(cookie=f"access_token={user_token(171)}", origin=b"https://evil.example")
        connected, _ = await socket.connect(timeout=DEADLINE)

        assert not connected

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_a_logged_in_browser_session_authenticates_without_a_message():
    user = get_user_model().objects.create_user(username="live-session-user", password="x-long-password-1")
    session = SessionStore()
    session.update({"_auth_user_id": str(user.pk), "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
                    "_auth_user_hash": user.get_session_auth_hash()})  # fmt: skip
    session.create()

    async def scenario():
        socket = communicator(cookie=f"sessionid={session.session_key}")
        await socket.connect(timeout=DEADLINE)
        assert await socket.receive_json_from(timeout=DEADLINE) == {"type": "auth.ok"}
        transaction_id = str(uuid.uuid4())

        await get_channel_layer().group_send(f"user_{user.pk}", status_message(transaction_id))

        assert await socket.receive_json_from(timeout=DEADLINE) == named(status_message(transaction_id))
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_socket_idle_longer_than_the_redis_read_timeout_still_receives():
    # channels-redis waits for a message with BZPOPMIN for 5 s; redis-py 8 reads every socket
    # with a 5 s timeout by default, so an idle socket's consumer died with "Timeout reading"
    # (walletkit.channels.ChannelLayer waits again instead).
    async def scenario():
        socket = await connected_by_message(151)
        assert await socket.receive_nothing(timeout=6.5, interval=0.5)
        transaction_id = str(uuid.uuid4())

        await get_channel_layer().group_send("user_151", status_message(transaction_id))

        assert await socket.receive_json_from(timeout=DEADLINE) == named(status_message(transaction_id))
        await socket.disconnect()

    async_to_sync(scenario)()


def test_pushes_queued_for_a_busy_gateway_are_kept_not_dropped():
    # All sockets of one gateway process share ONE channels-redis queue, and channels-redis drops
    # group messages silently beyond its capacity (default 100): under load, a lagging gateway lost
    # users' final statuses. The configured capacity keeps a busy gateway's backlog.
    async def scenario():
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        channel = await layer.new_channel()
        await layer.group_add("user_161", channel)
        sent = [str(uuid.uuid4()) for _ in range(300)]
        for transaction_id in sent:
            await layer.group_send("user_161", status_message(transaction_id))

        received = [(await asyncio.wait_for(layer.receive(channel), DEADLINE))["transaction"]["id"] for _ in sent]

        assert received == sent

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_logout_closes_the_users_websockets_and_no_one_elses():
    user = get_user_model().objects.create_user(username="live-logout-user", password="x-long-password-1")
    refresh = RefreshToken.for_user(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {refresh.access_token}")

    async def scenario():
        by_cookie = communicator(cookie=f"access_token={refresh.access_token}")
        await by_cookie.connect(timeout=DEADLINE)
        assert await by_cookie.receive_json_from(timeout=DEADLINE) == {"type": "auth.ok"}
        by_message = await connected_by_message(user.pk)
        someone_else = await connected_by_message(user.pk + 1000)

        logout = sync_to_async(api.post, thread_sensitive=False)
        out = await logout("/api/v1/auth/logout", {"refresh": str(refresh)}, format="json")
        assert out.status_code == 204

        assert await closed_code(by_cookie) == CLOSE_UNAUTHENTICATED
        assert await closed_code(by_message) == CLOSE_UNAUTHENTICATED
        transaction_id = str(uuid.uuid4())
        await get_channel_layer().group_send(f"user_{user.pk + 1000}", status_message(transaction_id))
        assert await someone_else.receive_json_from(timeout=DEADLINE) == named(status_message(transaction_id))
        await someone_else.disconnect()

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_a_password_reset_closes_the_users_websockets():
    user = get_user_model().objects.create_user(username="live-reset-user", password="x-long-password-1")
    uid, token = urlsafe_base64_encode(str(user.pk).encode()), default_token_generator.make_token(user)

    async def scenario():
        socket = await connected_by_message(user.pk)
        confirm = sync_to_async(APIClient().post, thread_sensitive=False)
        body = {"uid": uid, "token": token, "new_password": "a-brand-new-passphrase-42"}
        out = await confirm("/api/v1/auth/password/reset/confirm", body, format="json")
        assert out.status_code == 204, out.json()
        assert await closed_code(socket) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()


@pytest.mark.django_db(transaction=True)
def test_revoking_a_session_closes_the_users_websockets():
    user = get_user_model().objects.create_user(username="live-revoke-user", password="x-long-password-1")
    stolen, mine = session_start(user=user), session_start(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {mine.access_token}")

    async def scenario():
        socket = await connected_by_message(user.pk)
        revoke = sync_to_async(api.delete, thread_sensitive=False)
        out = await revoke(f"/api/v1/auth/sessions/{stolen['sid']}")
        assert out.status_code == 204
        assert await closed_code(socket) == CLOSE_UNAUTHENTICATED

    async_to_sync(scenario)()
