"""The money invariants, checked straight in each service's database after the system is quiet.

Tests only *read* here (and the drift tests write to inject faults). Every check returns a
list of human-readable violations; an empty list is the proof.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import psycopg
from confluent_kafka import Consumer, TopicPartition

from walletkit.devstack.stack import Stack
from walletkit.events import Topic
from walletkit.testing.waiting import wait_until

FINAL = ("SUCCESS", "FAILED")


def query(stack: Stack, service: str, sql: str, params: tuple = ()) -> list[tuple]:
    with psycopg.connect(stack.config.database_url(service), autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(stack: Stack, service: str, sql: str, params: tuple = ()):
    return query(stack, service, sql, params)[0][0]


def quiet(stack: Stack) -> bool:
    """No saga in flight: every transaction final, no hold reserved, no outbox backlog."""
    pending = scalar(stack, "transaction", "SELECT count(*) FROM transaction WHERE status NOT IN ('SUCCESS','FAILED')")
    holds = scalar(stack, "wallet", "SELECT count(*) FROM wallet_hold WHERE status = 'RESERVED'")
    backlog = sum(
        scalar(stack, name, "SELECT count(*) FROM outbox_event WHERE published_at IS NULL")
        for name in ("transaction", "wallet", "ledger")
    )
    return pending == 0 and holds == 0 and backlog == 0


# Each consumer group and the topics it reads (the services' settings.CONSUMERS).
CONSUMER_GROUPS = {
    "ledger-wallet-events": (Topic.WALLET_EVENTS,),
    "wallet-ledger-events": (Topic.LEDGER_EVENTS,),
    "transaction": (Topic.WALLET_EVENTS, Topic.LEDGER_EVENTS),
    "history": (Topic.WALLET_EVENTS, Topic.TRANSACTION_EVENTS),
}


def consumers_caught_up(stack: Stack) -> bool:
    """Every consumer group has committed past every message on every topic it reads: each was
    applied, deduplicated or skipped — nothing is waiting."""
    for group, topics in CONSUMER_GROUPS.items():
        with _kafka_reader(stack, group) as reader:  # never subscribes: reads the group's offsets only
            for tp in reader.committed([tp for topic in topics for tp in _partitions(stack, topic)], timeout=10):
                committed = max(tp.offset, 0)  # negative: nothing committed yet
                if committed < reader.get_watermark_offsets(tp, timeout=10)[1]:
                    return False
    return True


def _partitions(stack: Stack, topic: str) -> list[TopicPartition]:
    return [TopicPartition(str(topic), p) for p in range(stack.config.kafka_partitions)]


@contextmanager
def _kafka_reader(stack: Stack, group: str) -> Iterator[Consumer]:
    reader = Consumer({"bootstrap.servers": stack.config.bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        yield reader
    finally:
        reader.close()


def wait_quiet(stack: Stack, timeout: float = 90.0) -> None:
    wait_until(lambda: quiet(stack), timeout=timeout, message="every saga final, no hold reserved, outbox drained")


def violations(stack: Stack) -> list[str]:
    found: list[str] = []
    found += _transactions_final(stack)
    found += _wallets_sane(stack)
    found += _ledger_matches_wallets(stack)
    found += _money_conserved(stack)
    found += _one_entry_per_success(stack)
    found += _history_complete(stack)
    return found


def history_complete(stack: Stack) -> bool:
    missing = _history_complete(stack)
    assert not missing, missing[:5]  # wait_until keeps the last of these for its failure message
    return True


def _history_complete(stack: Stack) -> list[str]:
    """Every final transaction shows, with its final status, on the history of each wallet it concerns.

    Accepted by the wallet service (``reserved_at`` set, or SUCCESS): both sides. Refused before that: only the
    acting wallet, and only when the actor owns it — an attempt on someone else's wallet, or a payee's
    side of a refused payment, leaves no trace (API.md "Additions")."""
    owners = dict(query(stack, "wallet", "SELECT id, owner_id FROM wallet"))
    sides = set()
    for tid, status, type_, from_wallet, to_wallet, owner, reserved_at in query(
        stack, "transaction",
        "SELECT id, status, type, from_wallet_id, to_wallet_id, owner_id, reserved_at FROM transaction"
        " WHERE status = ANY(%s)",
        (list(FINAL),),
    ):  # fmt: skip
        if reserved_at is not None or status == "SUCCESS":
            sides |= {(tid, wallet, status) for wallet in (from_wallet, to_wallet) if wallet}
            continue
        acting = to_wallet if type_ == "DEPOSIT" else from_wallet
        if owners.get(acting) == owner:
            sides.add((tid, acting, status))
    recorded = set(query(stack, "history", "SELECT transaction_id, wallet_id, status FROM history_entry"))
    return [f"history lacks {status} of {tid} for wallet {wallet}" for tid, wallet, status in sides - recorded]


def _transactions_final(stack: Stack) -> list[str]:
    rows = query(stack, "transaction", "SELECT id, status FROM transaction WHERE status NOT IN ('SUCCESS','FAILED')")
    return [f"transaction {tid} still {status}" for tid, status in rows]


def _wallets_sane(stack: Stack) -> list[str]:
    rows = query(stack, "wallet", "SELECT id, balance, held FROM wallet WHERE balance < 0 OR held <> 0")
    held = query(stack, "wallet", "SELECT transaction_id FROM wallet_hold WHERE status = 'RESERVED'")
    return [f"wallet {wid} balance {bal} held {h}" for wid, bal, h in rows] + [
        f"hold {t} still reserved" for (t,) in held
    ]


def _ledger_matches_wallets(stack: Stack) -> list[str]:
    wallets = dict(query(stack, "wallet", "SELECT id, balance FROM wallet"))
    ledger = dict(
        query(
            stack,
            "ledger",
            "SELECT a.wallet_id, coalesce(sum(p.amount), 0) FROM ledger_account a"
            " LEFT JOIN ledger_posting p ON p.account_id = a.id WHERE a.kind = 'WALLET' GROUP BY a.wallet_id",
        )
    )
    found = []
    for wallet_id, balance in wallets.items():
        if ledger.get(wallet_id, Decimal(0)) != balance:
            found.append(f"wallet {wallet_id}: wallet says {balance}, ledger says {ledger.get(wallet_id, 0)}")
    for wallet_id in ledger.keys() - wallets.keys():
        found.append(f"ledger account for unknown wallet {wallet_id}")
    return found


def _money_conserved(stack: Stack) -> list[str]:
    """Postings sum to zero per currency, and what wallets hold is exactly what came in minus what went out."""
    rows = query(stack, "ledger", "SELECT currency, sum(amount) FROM ledger_posting GROUP BY currency")
    found = [f"postings in {cur} sum to {total}, not 0" for cur, total in rows if total != 0]
    flows = dict(
        query(
            stack,
            "transaction",
            "SELECT currency, sum(CASE type WHEN 'DEPOSIT' THEN amount WHEN 'WITHDRAWAL' THEN -amount ELSE 0 END)"
            " FROM transaction WHERE status = 'SUCCESS' GROUP BY currency",
        )
    )
    # Staff adjustments (reconciliation repairs) are money entered by hand, with a journal entry of their own.
    adjusted = dict(
        query(
            stack,
            "ledger",
            "SELECT p.currency, sum(p.amount) FROM ledger_posting p JOIN ledger_journal_entry e ON e.id = p.entry_id"
            " JOIN ledger_account a ON a.id = p.account_id WHERE e.type = 'ADJUSTMENT' AND a.kind = 'WALLET'"
            " GROUP BY p.currency",
        )
    )
    held = dict(query(stack, "wallet", "SELECT currency, sum(balance) FROM wallet GROUP BY currency"))
    for currency in flows.keys() | held.keys() | adjusted.keys():
        expected = flows.get(currency, Decimal(0)) + adjusted.get(currency, Decimal(0))
        if expected != held.get(currency, Decimal(0)):
            found.append(
                f"{currency}: deposits − withdrawals + adjustments = {expected}, wallets hold {held.get(currency)}"
            )
    return found


def _one_entry_per_success(stack: Stack) -> list[str]:
    success = {row[0] for row in query(stack, "transaction", "SELECT id FROM transaction WHERE status = 'SUCCESS'")}
    entries = [
        row[0]
        for row in query(stack, "ledger", "SELECT transaction_id FROM ledger_journal_entry WHERE type <> 'ADJUSTMENT'")
    ]
    found = [f"transaction {t} has {entries.count(t)} journal entries" for t in set(entries) if entries.count(t) > 1]
    found += [f"SUCCESS transaction {t} has no journal entry" for t in success - set(entries)]
    found += [f"journal entry for non-SUCCESS transaction {t}" for t in set(entries) - success]
    return found
