"""Counterparties are named from the gateway's users at read time (decision 0012)."""

import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from api.people import OWNER_KEY, counterparties_resolve, transactions_name_counterparties

pytestmark = pytest.mark.django_db


def owned_wallet(user) -> str:
    wallet_id = str(uuid.uuid4())
    cache.set(OWNER_KEY.format(wallet_id), user.id, timeout=None)  # as learned from wallet_service
    return wallet_id


def test_a_renamed_user_is_shown_by_the_new_name_and_a_deleted_one_as_null():
    bob = get_user_model().objects.create_user(username="bob", password="x")
    wallet_id = owned_wallet(bob)
    assert counterparties_resolve(wallet_ids=[wallet_id]) == {wallet_id: {"username": "bob", "wallet_id": wallet_id}}
    bob.username = "robert"
    bob.save()
    assert counterparties_resolve(wallet_ids=[wallet_id])[wallet_id]["username"] == "robert"
    bob.delete()
    assert counterparties_resolve(wallet_ids=[wallet_id])[wallet_id] == {"username": None, "wallet_id": wallet_id}


def test_a_transfer_names_the_other_side_for_each_party_and_a_deposit_none():
    alice = get_user_model().objects.create_user(username="alice", password="x")
    bob = get_user_model().objects.create_user(username="bob", password="x")
    alices, bobs = owned_wallet(alice), owned_wallet(bob)
    transfer = {"id": "t1", "from_wallet_id": alices, "to_wallet_id": bobs}
    deposit = {"id": "t2", "from_wallet_id": None, "to_wallet_id": alices}
    as_alice = transactions_name_counterparties([dict(transfer), dict(deposit)], user_id=alice.id)
    assert [t["counterparty"] for t in as_alice] == [{"username": "bob", "wallet_id": bobs}, None]
    [as_bob] = transactions_name_counterparties([dict(transfer)], user_id=bob.id)
    assert as_bob["counterparty"] == {"username": "alice", "wallet_id": alices}


def test_an_owner_once_learned_is_remembered_in_the_process_without_asking_again():
    """Ownership never changes, so after the first answer naming needs no round trip for it: here the
    shared cache forgets the owner and wallet_service is unreachable, and the name still comes."""
    carol = get_user_model().objects.create_user(username="carol", password="x")
    wallet_id = owned_wallet(carol)
    assert counterparties_resolve(wallet_ids=[wallet_id])[wallet_id]["username"] == "carol"
    cache.delete(OWNER_KEY.format(wallet_id))
    assert counterparties_resolve(wallet_ids=[wallet_id])[wallet_id]["username"] == "carol"
