"""Live push: a status change reaches each involved user's channel group, only after it commits — the
transaction's status, as TransactionStatusChanged carries it (decision 0018)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import channel_layers
from django.db import transaction

from history.handlers import transaction_event_handle, wallet_event_handle
from history.tests.conftest import movement, status_changed, wallet_opened

pytestmark = pytest.mark.django_db(transaction=True)
RECEIVE_DEADLINE = 10.0


class RolledBack(Exception):
    pass


async def listener(*groups: str):
    """A fresh channels-redis layer (own connections, this event loop) with a channel in ``groups``."""
    layer = channel_layers.make_backend("default")
    channel = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    return layer, channel


async def next_message(layer, channel) -> dict:
    return await asyncio.wait_for(layer.receive(channel), RECEIVE_DEADLINE)


def test_status_change_is_pushed_to_both_users_only_after_commit():
    source, target, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "12.0000", source=source, target=target)

    async def scenario():
        sender_layer, sender = await listener("user_21")
        receiver_layer, receiver = await listener("user_22")

        def change_inside_a_transaction():
            with transaction.atomic():  # the inbox transaction the consumer loop runs handlers in
                # The receiver not named yet: the sender alone hears of it.
                transaction_event_handle(status_changed(tx, move, status="RESERVED", user_ids=[21]))
                # Still uncommitted: if the push went out now it would be ahead of this marker.
                async_to_sync(sender_layer.send)(sender, {"type": "marker"})

        await sync_to_async(change_inside_a_transaction)()

        assert (await next_message(sender_layer, sender))["type"] == "marker"
        pushed = await next_message(sender_layer, sender)
        assert pushed["type"] == "transaction.status"
        assert pushed["transaction"]["id"] == str(tx) and pushed["transaction"]["status"] == "RESERVED"
        # user 22 is known from the transaction event's user_ids; WalletOpened is not needed. Its first
        # message is SUCCESS: the RESERVED that named the sender alone went to the sender alone.
        success = status_changed(tx, move, status="SUCCESS", user_ids=[21, 22])
        await sync_to_async(transaction_event_handle)(success)
        for layer, channel in ((sender_layer, sender), (receiver_layer, receiver)):
            message = await next_message(layer, channel)
            assert message["transaction"] == success.payload["transaction"]  # the transaction's own shape

    async_to_sync(scenario)()


def test_a_batch_pushes_each_users_latest_status_of_each_transaction_once():
    wallet, first_tx, second_tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("DEPOSIT", "5.0000", target=wallet)

    async def scenario():
        layer, channel = await listener("user_41")
        await sync_to_async(wallet_event_handle)(wallet_opened(wallet, 41))

        def one_batch():
            with transaction.atomic():  # one consumer batch: one database transaction, one run of the type
                transaction_event_handle.apply_all([
                    status_changed(first_tx, move, status="RESERVED", user_ids=[41]),
                    status_changed(second_tx, move, status="RESERVED", user_ids=[41]),
                    status_changed(first_tx, move, status="SUCCESS", user_ids=[41]),
                ])  # fmt: skip
            async_to_sync(layer.send)(channel, {"type": "marker"})

        await sync_to_async(one_batch)()

        received = []
        while (message := await next_message(layer, channel))["type"] != "marker":
            received.append((message["transaction"]["id"], message["transaction"]["status"]))
        assert sorted(received) == sorted([(str(first_tx), "SUCCESS"), (str(second_tx), "RESERVED")])

    async_to_sync(scenario)()


def test_a_rolled_back_change_sends_nothing():
    wallet, rolled_back_tx, committed_tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("DEPOSIT", "7.0000", target=wallet)

    async def scenario():
        layer, channel = await listener("user_31")
        await sync_to_async(wallet_event_handle)(wallet_opened(wallet, 31))

        def change_then_roll_back():
            with pytest.raises(RolledBack), transaction.atomic():
                transaction_event_handle(status_changed(rolled_back_tx, move, status="SUCCESS", user_ids=[31]))
                raise RolledBack

        await sync_to_async(change_then_roll_back)()
        await sync_to_async(transaction_event_handle)(
            status_changed(committed_tx, move, status="SUCCESS", user_ids=[31])
        )

        # One channel is FIFO: had the rolled-back change been pushed, it would come first.
        message = await next_message(layer, channel)
        assert message["transaction"]["id"] == str(committed_tx)

    async_to_sync(scenario)()


def test_a_duplicate_event_pushes_nothing_more():
    wallet, tx, later_tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("WITHDRAWAL", "2.0000", source=wallet)

    async def scenario():
        layer, channel = await listener("user_41")
        await sync_to_async(wallet_event_handle)(wallet_opened(wallet, 41))
        success = status_changed(tx, move, status="SUCCESS", user_ids=[41])
        await sync_to_async(transaction_event_handle)(success)
        await sync_to_async(transaction_event_handle)(success)
        await sync_to_async(transaction_event_handle)(status_changed(tx, move, status="RESERVED", user_ids=[41]))
        await sync_to_async(transaction_event_handle)(status_changed(later_tx, move, status="SUCCESS", user_ids=[41]))

        first, second = await next_message(layer, channel), await next_message(layer, channel)
        assert [first["transaction"]["id"], second["transaction"]["id"]] == [str(tx), str(later_tx)]
        assert first["transaction"]["status"] == "SUCCESS"

    async_to_sync(scenario)()


def test_a_refused_attempt_on_someone_elses_wallet_is_pushed_to_the_actor_only():
    bob_wallet, tx = uuid.uuid4(), uuid.uuid4()
    move = {**movement("WITHDRAWAL", "5.0000", source=bob_wallet), "currency": None}

    async def scenario():
        bob_layer, bob = await listener("user_32")
        mallory_layer, mallory = await listener("user_33")

        def refused_attempt():
            with transaction.atomic():
                wallet_event_handle(wallet_opened(bob_wallet, 32))
                transaction_event_handle(
                    status_changed(tx, move, status="FAILED", user_ids=[33], failure_reason="wallet_not_found")
                )

        await sync_to_async(refused_attempt)()
        # The push left inside the commit: anything for Bob is already ahead of this marker.
        await bob_layer.send(bob, {"type": "marker"})
        return await next_message(mallory_layer, mallory), await next_message(bob_layer, bob)

    to_mallory, to_bob = async_to_sync(scenario)()

    assert to_mallory["transaction"]["id"] == str(tx)
    assert to_bob == {"type": "marker"}


def test_a_payment_request_change_is_pushed_to_both_people_and_nobody_else():
    from walletkit.events import EventType, envelope_build

    view = {"id": str(uuid.uuid4()), "requester": "alice", "payer": "bob", "status": "DECLINED"}
    envelope = envelope_build(
        event_type=EventType.PAYMENT_REQUEST_CHANGED, payload={"payment_request": view, "user_ids": [31, 32]}
    )

    async def scenario():
        listeners = [await listener(f"user_{user_id}") for user_id in (31, 32, 33)]
        await sync_to_async(transaction_event_handle)(envelope)
        for layer, channel in listeners[:2]:
            assert await next_message(layer, channel) == {"type": "payment_request", "payment_request": view}
        stranger_layer, stranger = listeners[2]
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(stranger_layer.receive(stranger), 0.5)

    async_to_sync(scenario)()
