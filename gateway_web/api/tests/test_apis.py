"""The forwarding API: what is checked at the gateway, what is passed through, and how failures look."""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.django_db

WALLET_ID = str(uuid.uuid4())
OTHER_WALLET_ID = str(uuid.uuid4())
TX_ID = str(uuid.uuid4())
WALLET = {
    "id": WALLET_ID, "owner_id": 1, "name": "Main", "currency": "USD", "balance": "10.0000",
    "held": "2.0000", "available": "8.0000", "created_at": "2026-01-01T00:00:00Z",
}  # fmt: skip
TRANSACTION = {
    "id": TX_ID, "type": "DEPOSIT", "status": "RESERVED", "amount": "12.5000", "currency": "USD",
    "from_wallet_id": None, "to_wallet_id": WALLET_ID, "failure_reason": None,
    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    "reserved_at": "2026-01-01T00:00:00.100000Z", "posted_at": None, "refund_of": None,
}  # fmt: skip
UNNAMED = {"counterparty": None}  # the gateway names a transfer's other side; these are deposits
ENTRY = {
    "id": "1", "transaction_id": TX_ID, "wallet_id": WALLET_ID, "type": "DEPOSIT", "direction": "CREDIT",
    "amount": "12.5000", "currency": "USD", "counterparty_wallet_id": None, "status": "SUCCESS",
    "occurred_at": "2026-01-01T00:00:00Z",
}  # fmt: skip
DEPOSIT = f"/api/v1/wallets/{WALLET_ID}/deposits"
WITHDRAWAL = f"/api/v1/wallets/{WALLET_ID}/withdrawals"
TRANSFERS = "/api/v1/transfers"

PROTECTED = [
    ("get", "/api/v1/wallets"),
    ("post", "/api/v1/wallets"),
    ("get", f"/api/v1/wallets/{WALLET_ID}"),
    ("get", f"/api/v1/wallets/{WALLET_ID}/history"),
    ("post", DEPOSIT),
    ("post", WITHDRAWAL),
    ("post", TRANSFERS),
    ("get", "/api/v1/transactions"),
    ("get", f"/api/v1/transactions/{TX_ID}"),
    ("get", "/api/v1/activity"),
    ("get", "/api/v1/me"),
    ("post", "/api/v1/auth/logout"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_every_protected_endpoint_needs_a_token(client, downstream, method, path):
    response = getattr(client, method)(path, {}, format="json") if method == "post" else client.get(path)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert downstream.requests == []


def test_wallet_list_forwards_the_callers_own_token_and_renders_the_public_shape(authed, downstream):
    downstream.answer("GET", "/wallets", 200, [WALLET])
    response = authed.get("/api/v1/wallets")
    assert response.status_code == 200
    assert response.json() == [{key: value for key, value in WALLET.items() if key != "owner_id"}]
    (call,) = downstream.requests
    assert call.headers["Authorization"] == authed._credentials["HTTP_AUTHORIZATION"]


def test_wallet_open_validates_currency_then_forwards(authed, downstream):
    downstream.answer("POST", "/wallets", 201, WALLET)
    assert authed.post("/api/v1/wallets", {"currency": "XXQ"}, format="json").status_code == 400
    assert downstream.requests == []
    response = authed.post("/api/v1/wallets", {"currency": "usd", "name": "Trips"}, format="json")
    assert response.status_code == 201
    assert downstream.requests[0].body == {"currency": "USD", "name": "Trips"}


def test_downstream_404_is_passed_through_unchanged(authed, downstream):
    body = {"code": "wallet_not_found", "detail": "No such wallet."}
    downstream.answer("GET", f"/wallets/{WALLET_ID}", 404, body)
    response = authed.get(f"/api/v1/wallets/{WALLET_ID}")
    assert (response.status_code, response.json()) == (404, body)


@pytest.mark.parametrize("path", ["/api/v1/wallets/not-a-uuid", "/api/v1/transactions/123", "/api/v1/nothing-here"])
def test_garbage_ids_and_unknown_paths_are_json_404(authed, downstream, path):
    response = authed.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert downstream.requests == []


def test_deposit_without_idempotency_key_is_refused_and_nothing_is_forwarded(authed, downstream):
    response = authed.post(DEPOSIT, {"amount": "10.00"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_required"
    assert downstream.requests == []


@pytest.mark.parametrize(
    "amount",
    ["0", "-1.00", "1.00001", "abc", "NaN", "Infinity", "1e999", "", 1.5, None, True, "1000000000.0001"],
)
def test_invalid_amounts_are_400_with_a_field_error_and_nothing_is_forwarded(authed, downstream, amount):
    response = authed.post(DEPOSIT, {"amount": amount}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert response.status_code == 400
    assert response.json()["errors"]["amount"]
    assert downstream.requests == []


def test_deposit_forwards_a_deposit_into_the_wallet_with_the_key(authed, downstream):
    downstream.answer("POST", "/transactions", 202, TRANSACTION)
    response = authed.post(DEPOSIT, {"amount": "12.5"}, format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    assert response.status_code == 202
    assert response.json() == TRANSACTION | UNNAMED
    assert downstream.requests[0].body == {
        "type": "DEPOSIT", "from_wallet_id": None, "to_wallet_id": WALLET_ID, "amount": "12.5000",
        "idempotency_key": "key-1",
    }  # fmt: skip


def test_idempotency_key_may_come_in_the_body(authed, downstream):
    downstream.answer("POST", "/transactions", 202, TRANSACTION)
    response = authed.post(WITHDRAWAL, {"amount": "3", "idempotency_key": "body-key"}, format="json")
    assert response.status_code == 202
    sent = downstream.requests[0].body
    assert (sent["type"], sent["from_wallet_id"], sent["to_wallet_id"]) == ("WITHDRAWAL", WALLET_ID, None)
    assert sent["idempotency_key"] == "body-key"


def test_idempotency_key_in_header_and_body_must_agree(authed, downstream):
    response = authed.post(WITHDRAWAL, {"amount": "3", "idempotency_key": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="b")
    assert response.status_code == 400
    assert response.json()["errors"]["idempotency_key"]
    assert downstream.requests == []


def test_transfer_forwards_both_wallets(authed, downstream):
    downstream.answer("POST", "/transactions", 202, {**TRANSACTION, "type": "TRANSFER"})
    body = {"from_wallet_id": WALLET_ID, "to_wallet_id": OTHER_WALLET_ID, "amount": "1.0001"}
    assert authed.post(TRANSFERS, body, format="json", HTTP_IDEMPOTENCY_KEY="t1").status_code == 202
    sent = downstream.requests[0].body
    assert (sent["type"], sent["from_wallet_id"], sent["to_wallet_id"], sent["amount"]) == (
        "TRANSFER", WALLET_ID, OTHER_WALLET_ID, "1.0001",
    )  # fmt: skip


def test_transfer_to_the_same_wallet_is_400(authed, downstream):
    body = {"from_wallet_id": WALLET_ID, "to_wallet_id": WALLET_ID, "amount": "1"}
    response = authed.post(TRANSFERS, body, format="json", HTTP_IDEMPOTENCY_KEY="t1")
    assert response.status_code == 400
    assert response.json()["code"] == "same_wallet"
    assert downstream.requests == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (422, {"code": "insufficient_funds", "detail": "Not enough available funds."}),
        (422, {"code": "currency_mismatch", "detail": "The wallets hold different currencies."}),
        (409, {"code": "idempotency_conflict", "detail": "This key was used with another body."}),
        (400, {"code": "invalid", "detail": "Some fields are invalid.", "errors": {"amount": ["Too big."]}}),
    ],
)
def test_refusals_of_the_transaction_service_are_passed_through_unchanged(authed, downstream, status, body):
    downstream.answer("POST", "/transactions", status, body)
    response = authed.post(DEPOSIT, {"amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (response.status_code, response.json()) == (status, body)


def test_an_overloaded_transaction_service_s_retry_after_reaches_the_client(authed, downstream):
    body = {"code": "overloaded", "detail": "Too many payments are in progress.", "retry_after": 1}
    downstream.answer("POST", "/transactions", 429, body, headers={"Retry-After": "1"})
    response = authed.post(DEPOSIT, {"amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert (response.status_code, response.json(), response["Retry-After"]) == (429, body, "1")


def test_unreachable_service_is_503_json(authed, settings, closed_port_url):
    settings.SERVICE_URLS = {name: closed_port_url for name in settings.SERVICE_URLS}
    for response in (
        authed.get("/api/v1/wallets"),
        authed.post(DEPOSIT, {"amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY="k"),
        authed.get("/api/v1/activity"),
    ):
        assert response.status_code == 503
        assert response.json()["code"] == "service_unavailable"


def test_a_crashing_service_is_503_never_500(authed, downstream):
    downstream.answer("GET", f"/transactions/{TX_ID}", 500, b"<html>Server Error</html>")
    response = authed.get(f"/api/v1/transactions/{TX_ID}")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


def test_pagination_next_becomes_a_gateway_url_keeping_the_filters(authed, downstream):
    downstream.answer("GET", "/transactions", 200, {"results": [TRANSACTION], "next": "CURSOR2"})
    response = authed.get(f"/api/v1/transactions?wallet={WALLET_ID}&limit=1")
    assert response.status_code == 200
    assert response.json()["results"] == [TRANSACTION | UNNAMED]
    assert response.json()["next"] == (
        f"http://testserver/api/v1/transactions?wallet={WALLET_ID}&limit=1&cursor=CURSOR2"
    )
    assert downstream.requests[0].query == {"wallet": WALLET_ID, "limit": "1"}


def test_pagination_next_from_a_service_url_keeps_only_its_query(authed, downstream):
    downstream.answer(
        "GET", "/activity", 200, {"results": [ENTRY], "next": "http://127.0.0.1:8004/activity?cursor=C3&limit=5"}
    )
    response = authed.get("/api/v1/activity?limit=5&type=DEPOSIT")
    assert response.json()["results"] == [ENTRY | UNNAMED]
    assert response.json()["next"] == "http://testserver/api/v1/activity?limit=5&type=DEPOSIT&cursor=C3"


def test_last_page_has_null_next(authed, downstream):
    downstream.answer("GET", f"/wallets/{WALLET_ID}/history", 200, {"results": [], "next": None})
    response = authed.get(f"/api/v1/wallets/{WALLET_ID}/history")
    assert response.json() == {"results": [], "next": None}


@pytest.mark.parametrize(
    "query", ["status=DONE", "type=GIFT", "limit=0", "limit=101", "since=yesterday", "wallet=nope"]
)
def test_bad_filters_are_400_at_the_gateway(authed, downstream, query):
    path = "/api/v1/transactions" if query.startswith("wallet") else "/api/v1/activity"
    response = authed.get(f"{path}?{query}")
    assert response.status_code == 400
    assert downstream.requests == []


def test_money_endpoints_are_throttled_per_user(authed, downstream, settings, user_make):
    from conftest import access_token_for

    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "money": "2/min"}
    downstream.answer("POST", "/transactions", 202, TRANSACTION)
    statuses = [
        authed.post(DEPOSIT, {"amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY=f"k{n}").status_code for n in range(3)
    ]
    assert statuses == [202, 202, 429]
    assert len(downstream.requests) == 2
    authed.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user_make('zed'))}")
    assert authed.post(DEPOSIT, {"amount": "1"}, format="json", HTTP_IDEMPOTENCY_KEY="z").status_code == 202


def test_wrong_method_is_405_json(authed):
    response = authed.delete("/api/v1/transfers")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


def test_non_json_body_is_415_json(authed, downstream):
    response = authed.post(DEPOSIT, "amount=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_malformed_json_is_400_json(authed, downstream):
    response = authed.post(DEPOSIT, "{", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_oversized_body_is_413_json(authed, downstream, settings):
    body = '{"amount": "1", "pad": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'
    response = authed.post(DEPOSIT, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert downstream.requests == []


def test_security_headers(client):
    response = client.get("/api/v1/healthz")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response


def test_hsts_behind_https_proxy_when_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 3600
    response = client.get("/api/v1/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert response["Strict-Transport-Security"].startswith("max-age=3600")


def test_public_health_probes(client):
    assert client.get("/api/v1/healthz").json() == {"status": "ok"}
    ready = client.get("/api/v1/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "cache": True}


def test_refund_forwards_the_amount_and_key_to_the_originals_refunds(authed, downstream):
    refund = {**TRANSACTION, "type": "REFUND", "refund_of": TX_ID}
    downstream.answer("POST", f"/transactions/{TX_ID}/refunds", 202, refund)
    response = authed.post(f"/api/v1/transactions/{TX_ID}/refunds", {"amount": "2.5"}, format="json",
                           HTTP_IDEMPOTENCY_KEY="r1")  # fmt: skip
    assert (response.status_code, response.json()) == (202, {**refund, **UNNAMED})  # named like every transaction
    assert downstream.requests[0].body == {"amount": "2.5000", "idempotency_key": "r1"}


def test_refund_refusals_pass_through_and_bad_input_stops_here(authed, downstream):
    over = {"code": "refund_exceeds_original", "detail": "Too much.", "refundable": "1.0000"}
    downstream.answer("POST", f"/transactions/{TX_ID}/refunds", 422, over)
    path = f"/api/v1/transactions/{TX_ID}/refunds"
    assert authed.post(path, {"amount": "2"}, format="json", HTTP_IDEMPOTENCY_KEY="r1").json() == over
    assert authed.post(path, {"amount": "2"}, format="json").status_code == 400  # no key
    assert authed.post(path, {"amount": "1e3"}, format="json", HTTP_IDEMPOTENCY_KEY="r2").status_code == 400
    assert len(downstream.requests) == 1


def test_limits_are_forwarded_to_the_wallet_and_validated_first(authed, downstream):
    shown = {"daily_out": "10.0000", "monthly_out": None, "daily_used": "0.0000", "monthly_used": "0.0000"}
    downstream.answer("PUT", f"/wallets/{WALLET_ID}/limits", 200, shown)
    downstream.answer("GET", f"/wallets/{WALLET_ID}/limits", 200, shown)
    path = f"/api/v1/wallets/{WALLET_ID}/limits"
    response = authed.put(path, {"daily_out": "10", "monthly_out": None}, format="json")
    assert (response.status_code, response.json()) == (200, shown)
    assert downstream.requests[0].body == {"daily_out": "10.0000", "monthly_out": None}
    assert authed.get(path).json() == shown
    for bad in ({"daily_out": "0", "monthly_out": None}, {"daily_out": "-1", "monthly_out": None}, {"daily_out": "1"}):
        assert authed.put(path, bad, format="json").status_code == 400, bad
    assert len(downstream.requests) == 2
