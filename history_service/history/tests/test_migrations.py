"""0003 repairs what earlier releases wrote: receivers' credits given to senders, refusals shown to others."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE, AFTER = [("history", "0002_currency_unknown_until_known")], [("history", "0003_entry_accepted")]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def legacy_entry(cursor, *, tx, wallet, owner, direction, status, reason="", type_="TRANSFER") -> None:
    cursor.execute(
        "INSERT INTO history_entry (id, transaction_id, wallet_id, owner_id, type, direction, amount, currency,"
        " status, status_rank, failure_reason, occurred_at, updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, 5, 'USD', %s, 2, %s, now(), now())",
        [uuid.uuid4(), tx, wallet, owner, type_, direction, status, reason],
    )


def test_the_migration_gives_entries_to_their_owners_and_hides_other_peoples_refused_attempts():
    alice_wallet, bob_wallet = uuid.uuid4(), uuid.uuid4()
    paid, refused, attempt = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    migrate(BEFORE)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO history_wallet_owner (wallet_id, owner_id, currency, name) VALUES (%s, 1, 'USD', ''),"
            " (%s, 2, 'USD', '')",
            [alice_wallet, bob_wallet],
        )
        # The old write path: a receiver's credit attributed to the sender, a refusal copied to the payee.
        legacy_entry(cursor, tx=paid, wallet=alice_wallet, owner=1, direction="DEBIT", status="SUCCESS")
        legacy_entry(cursor, tx=paid, wallet=bob_wallet, owner=1, direction="CREDIT", status="SUCCESS")
        legacy_entry(cursor, tx=refused, wallet=alice_wallet, owner=1, direction="DEBIT", status="FAILED",
                     reason="insufficient_funds")  # fmt: skip
        legacy_entry(cursor, tx=refused, wallet=bob_wallet, owner=2, direction="CREDIT", status="FAILED",
                     reason="insufficient_funds")  # fmt: skip
        # Mallory's withdrawal from Alice's wallet, written while Alice's wallet was not known yet.
        legacy_entry(cursor, tx=attempt, wallet=alice_wallet, owner=3, direction="DEBIT", status="FAILED",
                     reason="wallet_not_found", type_="WITHDRAWAL")  # fmt: skip

    migrate(AFTER)

    with connection.cursor() as cursor:
        cursor.execute("SELECT transaction_id, wallet_id, owner_id, accepted FROM history_entry")
        rows = set(cursor.fetchall())
    assert rows == {
        (paid, alice_wallet, 1, True), (paid, bob_wallet, 2, True), (refused, alice_wallet, 1, False),
        (attempt, alice_wallet, None, False),
    }  # fmt: skip
