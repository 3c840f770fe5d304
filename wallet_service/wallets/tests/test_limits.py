"""Spending limits: enforced in the reserve, under the sender's row lock, counted from the reservation."""

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from walletkit.errors import DomainError, domain_error_status
from wallets import selectors, services
from wallets.models import Hold
from wallets.tests.conftest import wallet_funded
from wallets.tests.test_services import in_threads

pytestmark = pytest.mark.django_db


def send(sender, receiver, amount: str, *, type: str = "TRANSFER"):
    return services.hold_reserve(
        transaction_id=uuid.uuid4(), type=type, from_wallet_id=sender.id,
        to_wallet_id=receiver.id if type != "WITHDRAWAL" else None, amount=Decimal(amount),
        acting_user_id=sender.owner_id,
    )[0]  # fmt: skip


def limits(wallet, daily: str | None, monthly: str | None = None):
    return services.wallet_limits_set(
        wallet_id=wallet.id, owner_id=wallet.owner_id, daily_out=Decimal(daily) if daily else None,
        monthly_out=Decimal(monthly) if monthly else None,
    )  # fmt: skip


def test_a_reserve_past_the_daily_limit_is_refused_with_what_remains():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    limits(sender, "10")
    send(sender, receiver, "4")
    send(sender, receiver, "3", type="WITHDRAWAL")
    with pytest.raises(DomainError) as refused:
        send(sender, receiver, "3.0001")
    assert (domain_error_status(refused.value), refused.value.code) == (422, "limit_exceeded")
    assert refused.value.fields["remaining"] == "3.0000"
    sender.refresh_from_db()
    assert sender.held == Decimal("7")
    send(sender, receiver, "3")  # exactly the limit passes


def test_the_monthly_limit_counts_too_and_the_smaller_remainder_answers():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    limits(sender, "50", "20")
    send(sender, receiver, "15")
    with pytest.raises(DomainError) as refused:
        send(sender, receiver, "6")
    assert refused.value.fields["remaining"] == "5.0000"


def test_a_released_hold_stops_counting_and_a_captured_one_keeps_counting():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    limits(sender, "10")
    captured, released = send(sender, receiver, "4"), send(sender, receiver, "6")
    services.hold_capture(transaction_id=captured.transaction_id)
    services.hold_release(transaction_id=released.transaction_id, reason="insufficient_funds")
    used = selectors.wallet_outgoing_used(wallet_id=sender.id)
    assert (used.daily, used.monthly) == (Decimal("4"), Decimal("4"))
    send(sender, receiver, "6")


def test_deposits_and_incoming_transfers_do_not_count():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2, amount="50")
    limits(receiver, "5")
    send(sender, receiver, "30")
    used = selectors.wallet_outgoing_used(wallet_id=receiver.id)
    assert (used.daily, used.monthly) == (0, 0)  # its funding deposit and the incoming transfer


def test_yesterdays_holds_count_for_the_month_not_the_day():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    hold = send(sender, receiver, "8")
    now = datetime(2026, 11, 28, 0, 0, 1, tzinfo=UTC)
    Hold.objects.filter(id=hold.id).update(created_at=now - timedelta(seconds=2))  # 23:59:59 the day before
    used = selectors.wallet_outgoing_used(wallet_id=sender.id, now=now)
    assert (used.daily, used.monthly) == (Decimal("0"), Decimal("8"))
    used = selectors.wallet_outgoing_used(wallet_id=sender.id, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert (used.daily, used.monthly) == (0, 0)  # a new month


def test_a_retry_of_a_reserved_transaction_is_not_counted_twice():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    limits(sender, "10")
    transaction_id = uuid.uuid4()
    for _ in range(3):
        services.hold_reserve(
            transaction_id=transaction_id, type="TRANSFER", from_wallet_id=sender.id, to_wallet_id=receiver.id,
            amount=Decimal("10"), acting_user_id=1,
        )  # fmt: skip
    assert selectors.wallet_outgoing_used(wallet_id=sender.id).daily == Decimal("10")


def test_only_the_owner_sets_limits():
    wallet = wallet_funded(owner_id=1)
    with pytest.raises(DomainError) as refused:
        services.wallet_limits_set(wallet_id=wallet.id, owner_id=2, daily_out=Decimal(1), monthly_out=None)
    assert domain_error_status(refused.value) == 404
    wallet.refresh_from_db()
    assert wallet.daily_out_limit is None


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_transfers_of_3_under_a_daily_limit_of_10_exactly_3_pass():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    limits(sender, "10")

    errors = in_threads(10, lambda _i: send(sender, receiver, "3"))

    assert len(errors) == 7, errors
    assert all(isinstance(e, DomainError) and e.code == "limit_exceeded" for e in errors), errors
    assert {e.fields["remaining"] for e in errors} == {"1.0000"}
    assert Hold.objects.filter(from_wallet=sender, status=Hold.Status.RESERVED).count() == 3
    sender.refresh_from_db()
    assert sender.held == Decimal("9")


def test_limits_api_is_the_owners_and_shows_what_is_used(user_client):
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2)
    send(sender, receiver, "2.5")
    owner = user_client(1)
    answer = owner.put(f"/wallets/{sender.id}/limits", {"daily_out": "10", "monthly_out": None}, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"daily_out": "10.0000", "monthly_out": None, "daily_used": "2.5000",
                             "monthly_used": "2.5000"}  # fmt: skip
    assert owner.get(f"/wallets/{sender.id}/limits").json()["daily_out"] == "10.0000"
    stranger = user_client(2)
    assert stranger.get(f"/wallets/{sender.id}/limits").status_code == 404
    refused = stranger.put(f"/wallets/{sender.id}/limits", {"daily_out": "1", "monthly_out": None}, format="json")
    assert refused.status_code == 404
    for bad in ("0", "-1", "1e3", "1.00001"):
        answer = owner.put(f"/wallets/{sender.id}/limits", {"daily_out": bad, "monthly_out": None}, format="json")
        assert answer.status_code == 400, bad
    sender.refresh_from_db()
    assert sender.daily_out_limit == Decimal("10")
