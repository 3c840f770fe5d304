import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from walletkit.errors import DomainError, domain_error_status
from walletkit.outbox.models import OutboxEvent
from walletkit.testing.threads import in_threads
from walletkit.testing.waiting import wait_until
from wallets import services
from wallets.models import Hold, Wallet
from wallets.tests.conftest import wallet_funded

pytestmark = pytest.mark.django_db


def events_for(key) -> list[dict]:
    return [row.envelope for row in OutboxEvent.objects.filter(key=str(key)).order_by("id")]


def transfer(sender: Wallet, receiver: Wallet, amount: str, *, transaction_id=None, acting_user_id=None):
    return services.hold_reserve(
        transaction_id=transaction_id or uuid.uuid4(), type="TRANSFER", from_wallet_id=sender.id,
        to_wallet_id=receiver.id, amount=Decimal(amount), acting_user_id=acting_user_id or sender.owner_id,
    )  # fmt: skip


def test_wallet_open_publishes_wallet_opened_keyed_by_wallet():
    wallet = services.wallet_open(owner_id=7, currency="usd", name="Travel")
    [envelope] = events_for(wallet.id)
    assert envelope["event_type"] == "WalletOpened"
    assert envelope["payload"] == {"wallet_id": str(wallet.id), "owner_id": 7, "currency": "USD", "name": "Travel"}


def test_reserve_sets_funds_aside_and_publishes_funds_reserved():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    hold, created = transfer(sender, receiver, "30.5")
    sender.refresh_from_db()
    assert created and hold.status == Hold.Status.RESERVED
    assert (sender.balance, sender.held, sender.available) == (Decimal("100"), Decimal("30.5"), Decimal("69.5"))
    [envelope] = events_for(hold.transaction_id)
    assert envelope["event_type"] == "FundsReserved"
    assert envelope["transaction_id"] == str(hold.transaction_id)
    assert {
        key: envelope["payload"][key]
        for key in ("type", "amount", "currency", "from_wallet_id", "to_wallet_id", "owner_id", "to_owner_id")
    } == {
        "type": "TRANSFER", "amount": "30.5000", "currency": "EUR", "from_wallet_id": str(sender.id),
        "to_wallet_id": str(receiver.id), "owner_id": 1, "to_owner_id": 2,
    }  # fmt: skip


def test_insufficient_funds_is_refused_and_changes_nothing():
    sender, receiver = wallet_funded(owner_id=1, amount="10"), wallet_funded(owner_id=2)
    transaction_id = uuid.uuid4()
    with pytest.raises(DomainError) as refused:
        transfer(sender, receiver, "10.0001", transaction_id=transaction_id)
    assert (domain_error_status(refused.value), refused.value.code) == (422, "insufficient_funds")
    sender.refresh_from_db()
    assert (sender.balance, sender.held, sender.version) == (Decimal("10"), Decimal("0"), 1)
    assert not Hold.objects.filter(transaction_id=transaction_id).exists()
    assert events_for(transaction_id) == []


def test_reserving_from_another_users_wallet_is_not_found():
    sender, receiver = wallet_funded(owner_id=1, amount="10"), wallet_funded(owner_id=2)
    with pytest.raises(DomainError) as refused:
        transfer(sender, receiver, "1", acting_user_id=2)
    assert (domain_error_status(refused.value), refused.value.code) == (404, "wallet_not_found")
    sender.refresh_from_db()
    assert sender.held == 0


def test_transfer_to_a_missing_wallet_is_not_found():
    sender = wallet_funded(owner_id=1, amount="10")
    with pytest.raises(DomainError) as refused:
        transfer(sender, Wallet(id=uuid.uuid4()), "1")
    assert refused.value.code == "wallet_not_found"


def test_transfer_between_own_wallets_of_two_currencies_is_a_currency_mismatch():
    sender, receiver = wallet_funded(owner_id=1, amount="10"), wallet_funded(owner_id=1, currency="USD")
    with pytest.raises(DomainError) as refused:
        transfer(sender, receiver, "1")
    assert (domain_error_status(refused.value), refused.value.code) == (422, "currency_mismatch")


def test_someone_elses_wallet_of_another_currency_is_answered_like_a_missing_one():
    # No existence or currency oracle on a stranger's wallet id: the payer learns only "no wallet
    # you can pay in your currency", which the pay page by username tells anyone anyway.
    sender, stranger = wallet_funded(owner_id=1, amount="10"), wallet_funded(owner_id=2, currency="USD")
    answers = []
    for receiver in (stranger, Wallet(id=uuid.uuid4())):
        with pytest.raises(DomainError) as refused:
            transfer(sender, receiver, "1")
        answers.append((domain_error_status(refused.value), refused.value.code, str(refused.value.detail)))
    assert answers[0] == answers[1] == (404, "wallet_not_found", "Wallet not found.")


def test_deposit_by_someone_else_than_the_owner_is_not_found():
    wallet = wallet_funded(owner_id=1)
    with pytest.raises(DomainError) as refused:
        services.hold_reserve(
            transaction_id=uuid.uuid4(), type="DEPOSIT", from_wallet_id=None, to_wallet_id=wallet.id,
            amount=Decimal("5"), acting_user_id=2,
        )  # fmt: skip
    assert refused.value.code == "wallet_not_found"


def test_deposit_authorization_publishes_deposit_authorized_and_holds_nothing():
    wallet = wallet_funded(owner_id=1)
    hold, _ = services.hold_reserve(
        transaction_id=uuid.uuid4(), type="DEPOSIT", from_wallet_id=None, to_wallet_id=wallet.id,
        amount=Decimal("5"), acting_user_id=1,
    )  # fmt: skip
    wallet.refresh_from_db()
    assert wallet.held == 0
    [envelope] = events_for(hold.transaction_id)
    assert envelope["event_type"] == "DepositAuthorized"
    assert envelope["payload"]["to_owner_id"] == 1


def test_retry_with_the_same_transaction_id_reserves_once():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    transaction_id = uuid.uuid4()
    first, first_created = transfer(sender, receiver, "40", transaction_id=transaction_id)
    again, again_created = transfer(sender, receiver, "40", transaction_id=transaction_id)
    sender.refresh_from_db()
    assert (first_created, again_created) == (True, False)
    assert again.pk == first.pk
    assert sender.held == Decimal("40")
    assert len(events_for(transaction_id)) == 1


def test_reusing_a_transaction_id_for_another_amount_is_a_conflict():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    transaction_id = uuid.uuid4()
    transfer(sender, receiver, "40", transaction_id=transaction_id)
    with pytest.raises(DomainError) as refused:
        transfer(sender, receiver, "41", transaction_id=transaction_id)
    assert (domain_error_status(refused.value), refused.value.code) == (409, "transaction_id_conflict")


def test_a_first_transfer_reserve_looks_for_an_earlier_try_once_under_the_senders_lock():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    with CaptureQueriesContext(connection) as queries:
        transfer(sender, receiver, "10")
    statements = [query["sql"] for query in queries.captured_queries]
    hold_reads = [n for n, sql in enumerate(statements) if sql.startswith('SELECT "wallet_hold"')]
    [sender_lock] = [n for n, sql in enumerate(statements) if "FOR NO KEY UPDATE" in sql]
    assert len(hold_reads) == 1 and hold_reads[0] > sender_lock, statements


def test_a_transaction_id_reused_by_someone_else_on_their_own_wallet_is_a_conflict():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2, amount="100")
    transaction_id = uuid.uuid4()
    transfer(sender, receiver, "40", transaction_id=transaction_id)
    with pytest.raises(DomainError) as refused:  # user 2 is not the sender's owner: it must not look new
        transfer(sender, receiver, "40", transaction_id=transaction_id, acting_user_id=2)
    assert (domain_error_status(refused.value), refused.value.code) == (409, "transaction_id_conflict")


def test_capture_moves_the_money_once_however_often_it_is_applied():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2, amount="1")
    hold, _ = transfer(sender, receiver, "30")
    services.hold_capture(transaction_id=hold.transaction_id)
    services.hold_capture(transaction_id=hold.transaction_id)
    sender.refresh_from_db()
    receiver.refresh_from_db()
    assert (sender.balance, sender.held) == (Decimal("70"), Decimal("0"))
    assert receiver.balance == Decimal("31")
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.CAPTURED
    assert [e["event_type"] for e in events_for(hold.transaction_id)] == ["FundsReserved", "HoldCaptured"]


def test_release_returns_the_funds_once_however_often_it_is_applied():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    hold, _ = transfer(sender, receiver, "30")
    services.hold_release(transaction_id=hold.transaction_id, reason="insufficient_funds")
    services.hold_release(transaction_id=hold.transaction_id, reason="insufficient_funds")
    sender.refresh_from_db()
    receiver.refresh_from_db()
    assert (sender.balance, sender.held, receiver.balance) == (Decimal("100"), Decimal("0"), Decimal("0"))
    released = Hold.objects.get(pk=hold.pk)
    assert (released.status, released.reason) == (Hold.Status.RELEASED, "insufficient_funds")
    last = events_for(hold.transaction_id)[-1]
    assert (last["event_type"], last["payload"]["reason"]) == ("HoldReleased", "insufficient_funds")
    assert len(events_for(hold.transaction_id)) == 2


def test_capture_of_a_released_hold_moves_no_money():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    hold, _ = transfer(sender, receiver, "30")
    services.hold_release(transaction_id=hold.transaction_id, reason="expired")
    services.hold_capture(transaction_id=hold.transaction_id)
    sender.refresh_from_db()
    receiver.refresh_from_db()
    assert (sender.balance, sender.held, receiver.balance) == (Decimal("100"), Decimal("0"), Decimal("0"))
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.RELEASED


def test_release_of_a_captured_hold_gives_nothing_back():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    hold, _ = transfer(sender, receiver, "30")
    services.hold_capture(transaction_id=hold.transaction_id)
    services.hold_release(transaction_id=hold.transaction_id, reason="expired")
    sender.refresh_from_db()
    assert (sender.balance, sender.held) == (Decimal("70"), Decimal("0"))
    assert Hold.objects.get(pk=hold.pk).status == Hold.Status.CAPTURED


def test_settling_an_unknown_transaction_is_ignored():
    assert services.hold_capture(transaction_id=uuid.uuid4()) is None
    assert services.hold_release(transaction_id=uuid.uuid4(), reason="x") is None


def test_withdrawal_capture_debits_only_the_sender():
    wallet = wallet_funded(owner_id=1, amount="50")
    hold, _ = services.hold_reserve(
        transaction_id=uuid.uuid4(), type="WITHDRAWAL", from_wallet_id=wallet.id, to_wallet_id=None,
        amount=Decimal("20.1234"), acting_user_id=1,
    )  # fmt: skip
    services.hold_capture(transaction_id=hold.transaction_id)
    wallet.refresh_from_db()
    assert (wallet.balance, wallet.held) == (Decimal("29.8766"), Decimal("0"))


@pytest.mark.django_db(transaction=True)
def test_opposite_transfers_settle_concurrently_without_deadlock():
    a, b = wallet_funded(owner_id=1, amount="1000"), wallet_funded(owner_id=2, amount="1000")
    holds = [transfer(a, b, "1")[0] for _ in range(20)] + [transfer(b, a, "2")[0] for _ in range(20)]

    errors = in_threads(len(holds), lambda i: services.hold_capture(transaction_id=holds[i].transaction_id))

    assert errors == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.balance, b.balance) == (Decimal("1020"), Decimal("980"))
    assert a.held == b.held == 0
    assert Hold.objects.filter(status=Hold.Status.CAPTURED).count() == 42  # 40 + the two funding deposits


@pytest.mark.django_db(transaction=True)
def test_concurrent_reserves_never_overdraw_or_overhold():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)

    errors = in_threads(50, lambda _i: transfer(sender, receiver, "7"))

    sender.refresh_from_db()
    assert all(isinstance(e, DomainError) and e.code == "insufficient_funds" for e in errors), errors
    reserved = Hold.objects.filter(from_wallet=sender, status=Hold.Status.RESERVED).count()
    assert (reserved, len(errors)) == (14, 36)  # 14 × 7 = 98 fits in 100; a 15th would not
    assert (sender.balance, sender.held) == (Decimal("100"), Decimal("98"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_reserves_of_one_transaction_id_create_one_hold():
    # Deposits take no wallet lock, so the racers meet at the hold's unique index.
    wallet = wallet_funded(owner_id=1)
    transaction_id = uuid.uuid4()
    results: list[bool] = []

    def deposit(_index: int) -> None:
        _hold, created = services.hold_reserve(
            transaction_id=transaction_id, type="DEPOSIT", from_wallet_id=None, to_wallet_id=wallet.id,
            amount=Decimal("10"), acting_user_id=1,
        )  # fmt: skip
        results.append(created)

    errors = in_threads(8, deposit)

    assert errors == []
    assert sorted(results) == [False] * 7 + [True]
    assert Hold.objects.filter(transaction_id=transaction_id).count() == 1
    assert len(events_for(transaction_id)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_retry_queued_behind_its_own_first_try_gets_that_hold_not_a_refusal():
    # The caller's first try timed out but committed; its retry waited on the sender's row lock.
    # The wallet holds exactly one transfer's worth: the retry must not be refused for it.
    sender = wallet_funded(owner_id=1, amount="10")
    receiver = wallet_funded(owner_id=2)
    transaction_id = uuid.uuid4()
    results: list[bool] = []

    def transfer(_index: int) -> None:
        _hold, created = services.hold_reserve(
            transaction_id=transaction_id, type="TRANSFER", from_wallet_id=sender.id, to_wallet_id=receiver.id,
            amount=Decimal("10"), acting_user_id=1,
        )  # fmt: skip
        results.append(created)

    errors = in_threads(8, transfer)

    assert errors == []  # no insufficient_funds for a transaction whose own hold took the funds
    assert sorted(results) == [False] * 7 + [True]
    sender.refresh_from_db()
    assert (sender.balance, sender.held) == (Decimal("10"), Decimal("10"))
    assert len(events_for(transaction_id)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_reserve_paying_into_a_wallet_locked_by_a_capture_does_not_wait_for_it():
    # The consumer applies captures in batches, one database transaction per batch, so it can
    # hold a receiver's row lock while it waits for the next wallet of the batch. The hold's
    # foreign key to that receiver is checked at COMMIT (FOR KEY SHARE): under FOR UPDATE locks
    # the reserve waited for the batch while holding its sender — a deadlock once the batch
    # reached that sender. Balance locks are FOR NO KEY UPDATE, which a key-share check passes.
    sender, receiver = wallet_funded(owner_id=1, amount="10"), wallet_funded(owner_id=2, amount="10")
    incoming = transfer(receiver, wallet_funded(owner_id=3), "1")[0]
    captured_and_holding = threading.Event()
    release = threading.Event()

    def capture_and_hold_the_lock() -> None:
        try:
            with transaction.atomic():
                services.hold_capture(transaction_id=incoming.transaction_id)  # locks `receiver`
                captured_and_holding.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=capture_and_hold_the_lock)
    holder.start()
    try:
        assert captured_and_holding.wait(10)
        reserved = threading.Event()

        def reserve() -> None:
            try:
                transfer(sender, receiver, "5")
                reserved.set()
            finally:
                connection.close()

        threading.Thread(target=reserve, daemon=True).start()
        assert reserved.wait(10), "the reserve waited for the capture's lock on the receiver"
    finally:
        release.set()
        holder.join(30)
    sender.refresh_from_db()
    assert sender.held == Decimal("5")


# --- void: the sweeper's expiry, decided once against any reserve still on its way ------------


def void(transaction_id, *, type="WITHDRAWAL", amount="10", acting_user_id=1):
    return services.hold_void(
        transaction_id=transaction_id, type=type, amount=Decimal(amount), acting_user_id=acting_user_id
    )


def withdraw(sender: Wallet, amount: str, *, transaction_id):
    return services.hold_reserve(
        transaction_id=transaction_id, type="WITHDRAWAL", from_wallet_id=sender.id, to_wallet_id=None,
        amount=Decimal(amount), acting_user_id=sender.owner_id,
    )  # fmt: skip


def deposit(wallet: Wallet, amount: str, *, transaction_id):
    return services.hold_reserve(
        transaction_id=transaction_id, type="DEPOSIT", from_wallet_id=None, to_wallet_id=wallet.id,
        amount=Decimal(amount), acting_user_id=wallet.owner_id,
    )  # fmt: skip


def assert_expired(refused) -> None:
    assert (domain_error_status(refused.value), refused.value.code) == (422, "expired")


def test_void_without_a_hold_leaves_a_tombstone_and_a_late_withdrawal_is_refused_expired():
    sender = wallet_funded(owner_id=1, amount="10")
    transaction_id = uuid.uuid4()

    tombstone, voided = void(transaction_id)
    with pytest.raises(DomainError) as refused:
        withdraw(sender, "10", transaction_id=transaction_id)

    assert (voided, tombstone.status) == (True, Hold.Status.VOIDED)
    assert_expired(refused)
    sender.refresh_from_db()
    assert (sender.balance, sender.held) == (Decimal("10"), Decimal("0"))
    assert events_for(transaction_id) == []
    assert void(transaction_id)[1] is False  # voiding again finds the same tombstone


def test_a_late_deposit_authorization_is_refused_expired_after_a_void():
    wallet = wallet_funded(owner_id=1)
    transaction_id = uuid.uuid4()
    void(transaction_id, type="DEPOSIT", amount="5")

    with pytest.raises(DomainError) as refused:
        deposit(wallet, "5", transaction_id=transaction_id)

    assert_expired(refused)
    assert events_for(transaction_id) == []


def test_void_after_a_reserve_returns_that_hold_and_changes_nothing():
    sender = wallet_funded(owner_id=1, amount="10")
    transaction_id = uuid.uuid4()
    reserved, _ = withdraw(sender, "4", transaction_id=transaction_id)

    hold, voided = void(transaction_id, amount="4")

    assert (voided, hold.pk, hold.status) == (False, reserved.pk, Hold.Status.RESERVED)
    sender.refresh_from_db()
    assert sender.held == Decimal("4")


def _waiting_on_a_lock() -> bool:
    """Some other connection of this database waits on a lock (a row lock or a unique index entry)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _in_thread(work) -> tuple[threading.Thread, list]:
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # noqa: BLE001 — asserted on by the test
            outcome.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def _holding_open(work) -> tuple[threading.Thread, threading.Event, threading.Event]:
    """Run ``work`` in a thread inside a transaction that stays open (its locks held) until released."""
    done, release = threading.Event(), threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                work()
                done.set()
                release.wait(30)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert done.wait(10)
    return thread, done, release


@pytest.mark.django_db(transaction=True)
def test_a_reserve_queued_on_the_sender_lock_is_refused_when_a_void_commits_meanwhile():
    # The brief's incident: the request thread's try waits on the sender's row lock, the sweeper
    # voids, the lock goes: the reserve must find the tombstone under the lock, not set money aside.
    sender = wallet_funded(owner_id=1, amount="10")
    transaction_id = uuid.uuid4()
    locker, _, release = _holding_open(lambda: Wallet.objects.select_for_update().get(id=sender.id))
    try:
        reserver, outcome = _in_thread(lambda: withdraw(sender, "10", transaction_id=transaction_id))
        wait_until(_waiting_on_a_lock, timeout=10, message="the reserve waits on the sender's lock")
        _hold, voided = void(transaction_id)  # needs no wallet lock: it never waits for the reserve
        assert voided
    finally:
        release.set()
        locker.join(10)
    reserver.join(10)

    [refusal] = outcome
    assert isinstance(refusal, DomainError) and refusal.code == "expired", refusal
    sender.refresh_from_db()
    assert sender.held == 0
    assert events_for(transaction_id) == []


@pytest.mark.parametrize("type", ["WITHDRAWAL", "DEPOSIT"])
@pytest.mark.django_db(transaction=True)
def test_a_void_racing_an_uncommitted_reserve_returns_the_reserve_once_it_commits(type):
    wallet = wallet_funded(owner_id=1, amount="10")
    transaction_id = uuid.uuid4()
    reserve = withdraw if type == "WITHDRAWAL" else deposit
    reserving, _, release = _holding_open(lambda: reserve(wallet, "3", transaction_id=transaction_id))
    try:
        voider, outcome = _in_thread(lambda: void(transaction_id, type=type, amount="3"))
        wait_until(_waiting_on_a_lock, timeout=10, message="the void waits on the hold's unique index")
    finally:
        release.set()
        reserving.join(10)
    voider.join(10)

    [(hold, voided)] = outcome
    assert (voided, hold.status) == (False, Hold.Status.RESERVED)
    assert len(events_for(transaction_id)) == 1  # the reserve's own FundsReserved / DepositAuthorized


@pytest.mark.parametrize("type", ["WITHDRAWAL", "DEPOSIT"])
@pytest.mark.django_db(transaction=True)
def test_a_reserve_racing_an_uncommitted_void_is_refused_once_the_void_commits(type):
    wallet = wallet_funded(owner_id=1, amount="10")
    transaction_id = uuid.uuid4()
    reserve = withdraw if type == "WITHDRAWAL" else deposit
    voiding, _, release = _holding_open(lambda: void(transaction_id, type=type, amount="3"))
    try:
        reserver, outcome = _in_thread(lambda: reserve(wallet, "3", transaction_id=transaction_id))
        wait_until(_waiting_on_a_lock, timeout=10, message="the reserve waits on the hold's unique index")
    finally:
        release.set()
        voiding.join(10)
    reserver.join(10)

    [refusal] = outcome
    assert isinstance(refusal, DomainError) and refusal.code == "expired", refusal
    wallet.refresh_from_db()
    assert wallet.held == 0
    assert events_for(transaction_id) == []
