"""Both history consumers, run for real against the broker, settle any delivery order."""

from __future__ import annotations

import uuid
from decimal import Decimal

from history.models import HistoryEntry
from history.tests.conftest import movement, publish, status_changed, wallet_opened
from walletkit.events import HoldCaptured, envelope_build
from walletkit.testing.waiting import wait_until


def settled(transaction_id, expected: dict) -> bool:
    rows = {
        entry.wallet_id: (entry.direction, entry.status, entry.owner_id)
        for entry in HistoryEntry.objects.filter(transaction_id=transaction_id)
    }
    return rows == expected


def test_consumers_settle_duplicated_and_reordered_events(history_consumers):
    alice_wallet, bob_wallet, tx = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    move = movement("TRANSFER", "25.0000", source=alice_wallet, target=bob_wallet)
    success = status_changed(tx, move, status="SUCCESS", user_ids=[51, 52])
    # A hold event on wallet.events is skipped (not history's source); the verdict before the reservation,
    # a duplicate of it, and the wallets opened last of all.
    captured = HoldCaptured(
        type="TRANSFER", amount=Decimal("25.0000"), currency="USD", from_wallet_id=alice_wallet, to_wallet_id=bob_wallet
    )
    publish(
        envelope_build(payload=captured, transaction_id=tx), success, success,
        status_changed(tx, move, status="RESERVED", user_ids=[51]),
        wallet_opened(alice_wallet, 51), wallet_opened(bob_wallet, 52),
    )  # fmt: skip

    wait_until(
        lambda: settled(tx, {alice_wallet: ("DEBIT", "SUCCESS", 51), bob_wallet: ("CREDIT", "SUCCESS", 52)}),
        timeout=60, message="both sides SUCCESS with their owners",
    )  # fmt: skip
