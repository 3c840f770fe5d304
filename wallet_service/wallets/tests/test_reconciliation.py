"""The internal reads and the repair reconciliation relies on."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from walletkit.errors import DomainError
from wallets import selectors, services
from wallets.models import Wallet, WalletResync
from wallets.tests.conftest import wallet_funded

pytestmark = pytest.mark.django_db


def reserve_transfer(sender: Wallet, receiver: Wallet, amount: str) -> uuid.UUID:
    transaction_id = uuid.uuid4()
    services.hold_reserve(
        transaction_id=transaction_id, type="TRANSFER", from_wallet_id=sender.id, to_wallet_id=receiver.id,
        amount=Decimal(amount), acting_user_id=sender.owner_id,
    )  # fmt: skip
    return transaction_id


def test_page_reports_reserved_sum_and_the_holds_touching_the_page():
    sender, receiver = wallet_funded(owner_id=1, amount="100"), wallet_funded(owner_id=2, amount="5")
    pending = reserve_transfer(sender, receiver, "30")
    since = timezone.now() - timedelta(minutes=5)

    page = selectors.reconciliation_wallet_page(after=None, limit=10, captured_since=since)

    rows = {row["id"]: row for row in page.wallets}
    assert rows[sender.id]["reserved"] == Decimal("30") and rows[sender.id]["held"] == Decimal("30")
    assert rows[receiver.id]["reserved"] == Decimal("0")
    statuses = {(h["transaction_id"], h["status"]) for h in page.holds}
    assert (pending, "RESERVED") in statuses
    assert sum(1 for _, status in statuses if status == "CAPTURED") == 2  # the two funding deposits
    later = selectors.reconciliation_wallet_page(after=None, limit=10, captured_since=timezone.now())
    assert {h["status"] for h in later.holds} == {"RESERVED"}


def test_a_voided_transaction_is_neither_a_hold_nor_reserved_money_on_the_page():
    sender = wallet_funded(owner_id=1, amount="100")
    voided = uuid.uuid4()
    services.hold_void(transaction_id=voided, type="WITHDRAWAL", amount=Decimal("30"), acting_user_id=1)

    page = selectors.reconciliation_wallet_page(after=None, limit=10, captured_since=timezone.now())

    [row] = [row for row in page.wallets if row["id"] == sender.id]
    assert (row["balance"], row["held"], row["reserved"]) == (Decimal("100"), Decimal("0"), Decimal("0"))
    assert voided not in {h["transaction_id"] for h in page.holds}


def test_pages_are_keyset_ordered_and_cover_every_wallet_once():
    ids = {wallet_funded(owner_id=n).id for n in range(5)}
    seen, after = [], None
    while True:
        page = selectors.reconciliation_wallet_page(after=after, limit=2, captured_since=timezone.now())
        seen += [row["id"] for row in page.wallets]
        if page.next is None:
            break
        after = uuid.UUID(page.next)
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)


def test_resync_sets_balance_bumps_version_and_audits():
    wallet = wallet_funded(owner_id=1, amount="10")

    resynced = services.wallet_resync(
        wallet_id=wallet.id, balance=Decimal("12.5"), expected_version=wallet.version, reason="drift", actor="staff:7"
    )

    assert resynced.balance == Decimal("12.5") and resynced.version == wallet.version + 1
    audit = WalletResync.objects.get(wallet=wallet)
    assert (audit.balance_before, audit.balance_after, audit.actor) == (Decimal("10"), Decimal("12.5"), "staff:7")


def test_resync_against_a_stale_version_changes_nothing():
    wallet = wallet_funded(owner_id=1, amount="10")
    with pytest.raises(DomainError) as error:
        services.wallet_resync(
            wallet_id=wallet.id, balance=Decimal("1"), expected_version=wallet.version - 1, reason="r", actor="a"
        )
    assert error.value.code == "version_conflict"
    wallet.refresh_from_db()
    assert wallet.balance == Decimal("10") and not WalletResync.objects.exists()


def test_resync_below_held_is_refused():
    sender, receiver = wallet_funded(owner_id=1, amount="10"), wallet_funded(owner_id=2)
    reserve_transfer(sender, receiver, "8")
    sender.refresh_from_db()
    with pytest.raises(DomainError) as error:
        services.wallet_resync(
            wallet_id=sender.id, balance=Decimal("5"), expected_version=sender.version, reason="r", actor="a"
        )
    assert error.value.code == "balance_below_held"


def test_internal_endpoints_refuse_users_and_serve_services(user_client, service_client):
    wallet = wallet_funded(owner_id=1, amount="10")
    url = "/internal/reconciliation/wallets"
    since = {"captured_since": timezone.now().isoformat()}
    assert user_client(1).get(url, since).status_code == 403
    assert service_client(caller="transaction").get(url, since).status_code == 403
    body = service_client(caller="ledger").get(url, since).json()
    assert body["wallets"][0]["balance"] == "10.0000" and body["next"] is None

    resync = f"/internal/wallets/{wallet.id}/resync"
    payload = {"balance": "9.0000", "expected_version": wallet.version, "reason": "drift", "actor": "staff:1"}
    assert user_client(1).post(resync, payload, format="json").status_code == 403
    assert service_client(caller="gateway").post(resync, payload, format="json").status_code == 403
    reconciliation = service_client(caller="ledger")
    response = reconciliation.post(resync, payload, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["balance"] == "9.0000"
    assert reconciliation.post(resync, payload | {"balance": "1.00001"}, format="json").status_code == 400
