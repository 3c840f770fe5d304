"""The checks on hand-made snapshots: in-flight money is not drift, everything else is."""

import uuid
from decimal import Decimal

from django.utils import timezone

from reconciliation.checks import findings_all, totals
from reconciliation.selectors import AccountFigure, Snapshot

W1, W2 = str(uuid.uuid4()), str(uuid.uuid4())


def account(wallet_id, postings, kind="WALLET"):
    return AccountFigure(uuid.uuid4(), kind, uuid.UUID(wallet_id) if wallet_id else None, "EUR",
                         Decimal(postings), Decimal(postings))  # fmt: skip


def wallet(wallet_id, balance, held="0", reserved="0"):
    return {"id": wallet_id, "currency": "EUR", "balance": balance, "held": held, "reserved": reserved, "version": 3}


def transfer_hold(tx, status, amount="30"):
    return {"transaction_id": tx, "type": "TRANSFER", "status": status, "amount": amount,
            "from_wallet_id": W1, "to_wallet_id": W2}  # fmt: skip


def snapshot(**fields) -> Snapshot:
    return Snapshot(taken_at=timezone.now(), **fields)


def kinds(snap):
    return [(f.kind, f.subject, f.expected, f.actual) for f in findings_all(snap)]


BASE = [account(W1, "100"), account(W2, "0"), account(None, "-100", kind="EXTERNAL")]


def test_agreeing_books_have_no_findings_and_totals_balance():
    snap = snapshot(accounts=BASE, wallets=[wallet(W1, "100"), wallet(W2, "0")])
    assert kinds(snap) == []
    assert totals(snap)["EUR"]["difference"] == "0.0000"


def test_posted_but_not_captured_is_in_flight_not_drift():
    tx = str(uuid.uuid4())
    accounts = [account(W1, "70"), account(W2, "30"), BASE[2]]
    hold = transfer_hold(tx, "RESERVED")
    snap = snapshot(
        accounts=accounts, wallets=[wallet(W1, "100", held="30", reserved="30"), wallet(W2, "0")],
        wallet_holds={W1: [hold], W2: [hold]}, posted={tx},
    )  # fmt: skip
    assert kinds(snap) == []
    assert totals(snap)["EUR"]["in_flight"] == "0.0000"  # -30 on the sender, +30 on the receiver


def test_captured_after_the_ledger_cut_is_in_flight_not_drift():
    tx = str(uuid.uuid4())
    hold = transfer_hold(tx, "CAPTURED")
    snap = snapshot(accounts=BASE, wallets=[wallet(W1, "70"), wallet(W2, "30")], wallet_holds={W1: [hold], W2: [hold]})
    assert kinds(snap) == []


def test_a_changed_balance_is_drift_with_expected_and_actual():
    snap = snapshot(accounts=BASE, wallets=[wallet(W1, "107"), wallet(W2, "0")])
    assert kinds(snap) == [("WALLET_BALANCE_DRIFT", W1, "100.0000", "107.0000")]


def test_an_orphan_entry_without_a_hold_is_drift():
    snap = snapshot(accounts=[account(W1, "100"), account(W2, "5"), account(None, "-105", "EXTERNAL")],
                    wallets=[wallet(W1, "100"), wallet(W2, "0")])  # fmt: skip
    assert kinds(snap) == [("WALLET_BALANCE_DRIFT", W2, "5.0000", "0.0000")]


def test_held_must_match_reserved_holds():
    snap = snapshot(accounts=BASE, wallets=[wallet(W1, "100", held="10", reserved="0"), wallet(W2, "0")])
    assert kinds(snap) == [("WALLET_HELD_DRIFT", W1, "0.0000", "10.0000")]


def test_transactions_entries_sagas_and_dead_letters_are_reported():
    tx = {"id": str(uuid.uuid4()), "type": "DEPOSIT", "amount": "5.0000", "currency": "EUR", "status": "RESERVED",
          "created_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    snap = snapshot(
        accounts=BASE, wallets=[wallet(W1, "100"), wallet(W2, "0")],
        success_without_entry=[tx | {"status": "SUCCESS"}],
        entries_not_success=[{"transaction_id": "t2", "entry_id": "e2", "type": "DEPOSIT", "amount": Decimal(1),
                              "transaction": None}],
        stuck_sagas=[tx],
        dead_letters={"wallet": [{"id": 4, "consumer": "c", "topic": "t", "partition": 0, "offset": 9, "key": "k",
                                  "error": "boom"}]},
    )  # fmt: skip
    assert [f[0] for f in kinds(snap)] == [
        "DEAD_LETTER", "ENTRY_WITHOUT_TRANSACTION", "STUCK_SAGA", "SUCCESS_WITHOUT_ENTRY"
    ]  # fmt: skip


def test_unbalanced_books_and_a_stale_cache_are_reported():
    stale = AccountFigure(uuid.uuid4(), "WALLET", uuid.UUID(W2), "EUR", Decimal(0), Decimal(3))
    snap = snapshot(accounts=[BASE[0], stale, account(None, "-90", "EXTERNAL")],
                    wallets=[wallet(W1, "100"), wallet(W2, "0")])  # fmt: skip
    assert sorted(f[0] for f in kinds(snap)) == ["ACCOUNT_CACHE_DRIFT", "LEDGER_NOT_ZERO_SUM"]


def test_same_snapshot_same_findings():
    snap = snapshot(accounts=BASE, wallets=[wallet(W2, "1"), wallet(W1, "107")])
    assert kinds(snap) == kinds(snap) and [f[1] for f in kinds(snap)] == sorted([W1, W2])
