"""Counterparties as people: ``{username, wallet_id}`` for the wallet on the other side of a movement.

Read model (decision 0012): what the services carry are ids, which never change — a wallet's owner
is fixed when it is opened. The gateway owns usernames, so it turns ids into names at READ time,
from its own users table: a renamed user shows under the new name everywhere at once, a deleted one
as ``username: null``, and no copy of a name is ever left stale in another service.

wallet id → owner id is asked of wallet_service once per wallet and then cached without expiry in
the shared cache (Redis), and in this process: ownership is immutable, so a cached fact cannot go
wrong — which is what lets naming cost one query (the usernames) and no round trip once warm.
Names are read from the users table every time, never cached: a cached name could go stale.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from uuid import UUID

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection

from api.client import DownstreamError, service_call
from walletkit.errors import ApiError

log = logging.getLogger(__name__)

OWNER_KEY = "wallet-owner:{}"
OWNERS_KNOWN_MAX = 100_000  # wallet ids remembered in this process (~10 MB); then it starts over
_owners_known: dict[str, int] = {}  # wallet id → owner id, learned in this process


def wallet_owners_get(*, wallet_ids: Iterable[UUID | str]) -> dict[str, int | None]:
    """Owner id per wallet id (None for a wallet the wallet service does not know)."""
    owners = {wallet_id: _owners_known.get(wallet_id) for wallet_id in {str(w) for w in wallet_ids if w}}
    unknown = [wallet_id for wallet_id, owner in owners.items() if owner is None]
    if unknown:
        owners |= _owners_learn(unknown)
    return owners


def _owners_learn(wallet_ids: list[str]) -> dict[str, int | None]:
    """From the shared cache, else from wallet_service; remembered here either way."""
    cached = cache.get_many([OWNER_KEY.format(wallet_id) for wallet_id in wallet_ids])
    owners = {wallet_id: cached.get(OWNER_KEY.format(wallet_id)) for wallet_id in wallet_ids}
    learned = {}
    for wallet_id in (wallet_id for wallet_id, owner in owners.items() if owner is None):
        try:  # the gateway's own service token: any wallet (docs/internal-api.md)
            _, wallet = service_call("GET", "wallet", f"/wallets/{wallet_id}", user_token=None)
        except (DownstreamError, ApiError):
            # Naming is never worth failing the answer it decorates (a money POST's 202 above all):
            # unknown or unreachable, the name is null this time and asked again next time.
            log.warning("counterparty owner unknown", extra={"wallet_id": wallet_id})
            continue
        owners[wallet_id] = learned[OWNER_KEY.format(wallet_id)] = wallet["owner_id"]
    if learned:
        cache.set_many(learned, timeout=None)
    if len(_owners_known) > OWNERS_KNOWN_MAX:
        _owners_known.clear()
    _owners_known.update((wallet_id, owner) for wallet_id, owner in owners.items() if owner is not None)
    return owners


def counterparties_resolve(*, wallet_ids: Iterable[UUID | str | None]) -> dict[str, dict]:
    """``{wallet_id: {username, wallet_id}}`` for each wallet id given (usernames as they are now)."""
    return _people(wallet_owners_get(wallet_ids=[wallet_id for wallet_id in wallet_ids if wallet_id]))


def _people(owners: dict[str, int | None]) -> dict[str, dict]:
    """Owners by wallet id → people by wallet id, the usernames read now in one query."""
    user_ids = sorted({owner for owner in owners.values() if owner})
    usernames = dict(_usernames(user_ids)) if user_ids else {}
    return {
        wallet_id: {"username": usernames.get(owner_id), "wallet_id": wallet_id}
        for wallet_id, owner_id in owners.items()
    }


def transactions_name_counterparties(transactions: list[dict], *, user_id: int) -> list[dict]:
    """Each transfer gets ``counterparty``: the other side as the caller sees it — the receiver
    when the caller owns the paying wallet, else the payer. Deposits and withdrawals: null."""
    transfers = [t for t in transactions if t.get("from_wallet_id") and t.get("to_wallet_id")]
    owners = wallet_owners_get(wallet_ids=[t[side] for t in transfers for side in ("from_wallet_id", "to_wallet_id")])
    other_sides = {
        t["id"]: str(t["to_wallet_id"]) if owners[str(t["from_wallet_id"])] == user_id else str(t["from_wallet_id"])
        for t in transfers
        if owners.get(str(t["from_wallet_id"])) is not None  # which side is the caller's is unknown: no name
    }
    people = _people({wallet_id: owners.get(wallet_id) for wallet_id in set(other_sides.values())})
    for transaction in transactions:
        other_side = other_sides.get(transaction["id"])
        transaction["counterparty"] = people.get(other_side) if other_side else None
    return transactions


def history_name_counterparties(entries: list[dict]) -> list[dict]:
    """A history entry already says which wallet is on the other side: name its owner."""
    people = counterparties_resolve(wallet_ids=[entry.get("counterparty_wallet_id") for entry in entries])
    for entry in entries:
        other_side = entry.get("counterparty_wallet_id")
        entry["counterparty"] = people.get(str(other_side)) if other_side else None
    return entries


def _usernames(user_ids: list[int]) -> list[tuple[int, str]]:
    """(id, username) of these users, in plain SQL: it runs on every answer that names someone, and
    the ORM's compiling of it was most of what naming cost the gateway."""
    table = connection.ops.quote_name(get_user_model()._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, username FROM {table} WHERE id = ANY(%s)", [user_ids])  # noqa: S608
        return cursor.fetchall()
