"""What the pages ask of the services behind the gateway, through the API's one client
(``api.client.service_call``) with the signed-in user's own access token: every service checks
ownership itself, exactly as for the REST API."""

from __future__ import annotations

import time
from decimal import Decimal
from uuid import UUID

from django.contrib.auth import get_user_model
from django.http import Http404

from api.client import DownstreamError, movement_payload, movement_timeout, service_call
from api.people import history_name_counterparties, transactions_name_counterparties
from walletkit.money import amount_format

IN_PROGRESS_RETRY_SECONDS = 0.2


def _get(token: str, service: str, path: str, params: dict | None = None):
    try:
        return service_call("GET", service, path, user_token=token, params=params)[1]
    except DownstreamError as error:
        if error.status_code == 404:
            raise Http404(error.body.get("detail", "Not found.")) from None
        raise


def _clean(params: dict) -> dict:
    return {name: value for name, value in params.items() if value not in (None, "")}


def wallets_list(*, token: str) -> list[dict]:
    body = _get(token, "wallet", "/wallets")
    return body["results"] if isinstance(body, dict) else body


def wallet_get(*, token: str, wallet_id: UUID) -> dict:
    return _get(token, "wallet", f"/wallets/{wallet_id}")


def wallet_open(*, token: str, currency: str, name: str) -> dict:
    return service_call("POST", "wallet", "/wallets", user_token=token, json={"currency": currency, "name": name})[1]


def activity_page(*, token: str, **filters) -> dict:
    page = _get(token, "history", "/activity", params=_clean(filters))
    return {**page, "results": history_name_counterparties(page.get("results", []))}


def wallet_history_page(*, token: str, wallet_id: UUID, **filters) -> dict:
    page = _get(token, "history", f"/wallets/{wallet_id}/history", params=_clean(filters))
    return {**page, "results": history_name_counterparties(page.get("results", []))}


def transaction_get(*, token: str, transaction_id: UUID, user_id: int) -> dict:
    transaction = _get(token, "transaction", f"/transactions/{transaction_id}")
    return transactions_name_counterparties([transaction], user_id=user_id)[0]


def wallet_limits_get(*, token: str, wallet_id: UUID) -> dict:
    return _get(token, "wallet", f"/wallets/{wallet_id}/limits")


def wallet_limits_set(*, token: str, wallet_id: UUID, daily_out: Decimal | None, monthly_out: Decimal | None) -> dict:
    body = {
        "daily_out": amount_format(daily_out) if daily_out is not None else None,
        "monthly_out": amount_format(monthly_out) if monthly_out is not None else None,
    }
    return service_call("PUT", "wallet", f"/wallets/{wallet_id}/limits", user_token=token, json=body)[1]


def refund_submit(*, token: str, transaction_id: UUID, amount: Decimal, key: str) -> dict:
    """As movement_submit: a resubmit of the same form is the same refund."""
    return _submit(
        token, f"/transactions/{transaction_id}/refunds", {"amount": amount_format(amount), "idempotency_key": key}
    )


def _submit(token: str, path: str, payload: dict) -> dict:
    deadline = time.monotonic() + movement_timeout()
    while True:
        try:
            return service_call(
                "POST", "transaction", path, user_token=token, json=payload, timeout=movement_timeout()
            )[1]
        except DownstreamError as error:
            if error.body.get("code") != "idempotency_in_progress" or time.monotonic() > deadline:
                raise
        time.sleep(IN_PROGRESS_RETRY_SECONDS)


def movement_submit(
    *, token: str, kind: str, from_wallet_id: UUID | None, to_wallet_id: UUID | None, amount: Decimal, key: str
) -> dict:
    """The transaction for this form's idempotency key: a double click, a refresh or a resubmit
    carry the same key, so they all land on the first movement.

    A second submit that arrives while the first is still being decided gets
    ``idempotency_in_progress``; it waits for the first one's verdict and answers with it, so
    whichever response the browser keeps shows the one real transaction.
    """
    payload = movement_payload(
        kind=kind, from_wallet_id=from_wallet_id, to_wallet_id=to_wallet_id, amount=amount, idempotency_key=key
    )
    return _submit(token, "/transactions", payload)


# --- Recipients ---------------------------------------------------------------------------------
# Paying someone needs one fact the payer's own token cannot read: which wallet of that user takes
# this currency (or, given a wallet id, whose it is). The gateway owns the users, so it asks the
# wallet service with a service token on behalf of the recipient — read-only, and only the wallet's
# id, currency and owner leave this module.


def recipient_by_username(*, username: str, currency: str) -> dict | None:
    """``{wallet_id, username}`` of the user's oldest wallet in ``currency``; None if there is none."""
    user = get_user_model().objects.filter(username__iexact=username, is_active=True).first()
    if user is None:
        return None
    _, wallets = service_call("GET", "wallet", "/wallets", user_token=None, on_behalf_of=user.id)
    wallets = wallets["results"] if isinstance(wallets, dict) else wallets
    matching = sorted((w for w in wallets if w["currency"] == currency), key=lambda w: w["created_at"])
    if not matching:
        return {"wallet_id": None, "username": user.username}
    return {"wallet_id": matching[0]["id"], "username": user.username}


def recipient_by_wallet(*, wallet_id: UUID) -> dict | None:
    """``{wallet_id, username, currency}``, or None when no such wallet exists."""
    try:
        _, wallet = service_call("GET", "wallet", f"/wallets/{wallet_id}", user_token=None)
    except DownstreamError as error:
        if error.status_code == 404:
            return None
        raise
    owner = get_user_model().objects.filter(id=wallet["owner_id"]).first()
    return {"wallet_id": wallet["id"], "username": owner.username if owner else "?", "currency": wallet["currency"]}


# --- Scheduled transfers and payment requests (transaction_service, decision 0014) ----------------


def schedules_list(*, token: str) -> list[dict]:
    return _get(token, "transaction", "/scheduled-transfers")


def schedule_create(*, token: str, payload: dict) -> dict:
    return service_call("POST", "transaction", "/scheduled-transfers", user_token=token, json=payload)[1]


def schedule_update(*, token: str, schedule_id: UUID, changes: dict) -> dict:
    path = f"/scheduled-transfers/{schedule_id}"
    return service_call("PATCH", "transaction", path, user_token=token, json=changes)[1]


def schedule_cancel(*, token: str, schedule_id: UUID) -> None:
    service_call("DELETE", "transaction", f"/scheduled-transfers/{schedule_id}", user_token=token)


def payment_requests_list(*, token: str, role: str) -> list[dict]:
    return _get(token, "transaction", "/payment-requests", params={"role": role, "limit": 50})["results"]


def payment_request_get(*, token: str, request_id: UUID) -> dict:
    return _get(token, "transaction", f"/payment-requests/{request_id}")


def payment_request_act(*, token: str, request_id: UUID, action: str) -> dict:
    """``action``: decline (the payer) or cancel (the requester)."""
    return service_call("POST", "transaction", f"/payment-requests/{request_id}/{action}", user_token=token)[1]


def payment_request_pay(*, token: str, request_id: UUID, from_wallet_id: str, key: str) -> dict:
    """The transfer paying it; the form's key makes a resubmit the same payment (and waits out a first
    submit still being decided, as movement_submit does)."""
    payload = {"from_wallet_id": from_wallet_id, "idempotency_key": key}
    deadline = time.monotonic() + movement_timeout()
    while True:
        try:
            return service_call(
                "POST", "transaction", f"/payment-requests/{request_id}/pay", user_token=token, json=payload,
                timeout=movement_timeout(),
            )[1]  # fmt: skip
        except DownstreamError as error:
            if error.body.get("code") != "idempotency_in_progress" or time.monotonic() > deadline:
                raise
        time.sleep(IN_PROGRESS_RETRY_SECONDS)
