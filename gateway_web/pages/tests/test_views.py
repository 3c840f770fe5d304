"""Page views against a real HTTP stand-in for the services (conftest ``downstream``)."""

from __future__ import annotations

import time

import jwt
import pytest
from django.conf import settings
from django.test import Client

from accounts.tokens import TokenObtainSerializer
from conftest import PASSWORD

WALLET = {
    "id": "11111111-1111-1111-1111-111111111111", "owner_id": 1, "name": "Main", "currency": "USD",
    "balance": "70.0000", "held": "0.0000", "available": "70.0000", "created_at": "2026-01-01T00:00:00Z",
}  # fmt: skip
ENTRY = {
    "id": 1, "transaction_id": "22222222-2222-2222-2222-222222222222", "wallet_id": WALLET["id"], "type": "DEPOSIT",
    "direction": "CREDIT", "amount": "100.0000", "currency": "USD", "counterparty_wallet_id": None,
    "status": "SUCCESS", "occurred_at": "2026-01-01T00:00:00Z",
}  # fmt: skip


@pytest.fixture
def browser() -> Client:
    return Client()


def signed_in(browser: Client, user) -> Client:
    refresh = TokenObtainSerializer.get_token(user)
    browser.cookies[settings.JWT_ACCESS_COOKIE] = str(refresh.access_token)
    browser.cookies[settings.JWT_REFRESH_COOKIE] = str(refresh)
    return browser


def test_pages_carry_a_strict_content_security_policy(browser, db):
    policy = browser.get("/login")["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert "connect-src 'self' ws://testserver wss://testserver" in policy


def test_wrong_password_is_an_error_in_the_form_and_sets_no_cookie(browser, user):
    response = browser.post("/login", {"username": user.username, "password": "wrong-password-here"})
    assert response.status_code == 400
    assert b"Wrong username or password." in response.content
    assert settings.JWT_ACCESS_COOKIE not in response.cookies


def test_login_sets_httponly_lax_cookies(browser, user):
    response = browser.post("/login", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    for name in (settings.JWT_ACCESS_COOKIE, settings.JWT_REFRESH_COOKIE):
        assert response.cookies[name]["httponly"] and response.cookies[name]["samesite"] == "Lax"


def test_anonymous_visitor_is_sent_to_login(browser, db):
    response = browser.get("/transfer")
    assert response.status_code == 302 and response["Location"] == "/login?next=%2Ftransfer"


def test_expired_access_token_is_renewed_from_the_refresh_cookie(browser, user, downstream):
    downstream.answer("GET", "/wallets", 200, [WALLET])
    downstream.answer("GET", f"/wallets/{WALLET['id']}/history", 200, {"results": [ENTRY], "next": None})
    downstream.answer("GET", "/activity", 200, {"results": [ENTRY], "next": None})
    signed_in(browser, user)
    key = settings.SIMPLE_JWT["SIGNING_KEY"]
    expired = {"user_id": user.id, "is_staff": False, "token_type": "access", "exp": int(time.time()) - 5}
    browser.cookies[settings.JWT_ACCESS_COOKIE] = jwt.encode(expired, key, algorithm="RS256")
    response = browser.get("/")
    assert response.status_code == 200
    assert b"70.00" in response.content
    renewed = response.cookies[settings.JWT_ACCESS_COOKIE].value
    assert jwt.decode(renewed, options={"verify_signature": False})["exp"] > time.time()
    assert downstream.requests[0].headers["Authorization"] == f"Bearer {renewed}"


def test_staff_page_is_not_found_for_other_users(browser, user, downstream):
    response = signed_in(browser, user).get("/staff/reconciliation")
    assert response.status_code == 404
    assert downstream.requests == []


def test_staff_page_shows_runs_from_the_ledger(browser, user_make, downstream):
    staff = user_make("olga", is_staff=True)
    run = {"id": 7, "started_at": "2026-01-01T00:00:00Z", "finished_at": "2026-01-01T00:00:01Z", "status": "CLEAN",
           "trigger": "staff:1", "totals": {}, "counts": {"findings": 0}, "error": ""}  # fmt: skip
    downstream.answer("GET", "/reconciliation/runs", 200, {"results": [run], "next": None})
    downstream.answer("GET", "/reconciliation/runs/7", 200, {**run, "findings": []})
    downstream.answer("GET", "/reconciliation/totals", 200, {"run_id": 7, "finished_at": None, "totals": {}})
    downstream.answer("GET", "/reconciliation/stuck-sagas", 200, {"results": [], "older_than": 40})
    downstream.answer("GET", "/reconciliation/dead-letters", 200, {"wallet": []})
    downstream.answer("GET", "/reconciliation/operations", 200, {"wallet": {"outbox_backlog": 0, "consumer_lag": {}}})
    response = signed_in(browser, staff).get("/staff/reconciliation")
    assert response.status_code == 200
    assert b"#7" in response.content and b"No findings" in response.content


def test_staff_page_says_what_each_run_checked(browser, user_make, downstream):
    staff = user_make("olga", is_staff=True)
    run = {"id": 8, "started_at": "2026-01-01T00:01:00Z", "finished_at": "2026-01-01T00:01:01Z", "status": "CLEAN",
           "trigger": "cron", "totals": {}, "counts": {"findings": 0}, "error": "", "mode": "INCREMENTAL",
           "window_start": "2026-01-01T00:00:00Z"}  # fmt: skip
    full = {**run, "id": 7, "mode": "FULL", "window_start": None, "trigger": "staff:1"}
    downstream.answer("GET", "/reconciliation/runs", 200, {"results": [run, full], "next": None})
    downstream.answer("GET", "/reconciliation/runs/8", 200, {**run, "findings": []})
    downstream.answer("GET", "/reconciliation/totals", 200, {"run_id": 8, "finished_at": None, "totals": {}})
    downstream.answer("GET", "/reconciliation/stuck-sagas", 200, {"results": [], "older_than": 40})
    downstream.answer("GET", "/reconciliation/dead-letters", 200, {"wallet": []})
    downstream.answer("GET", "/reconciliation/operations", 200, {"wallet": {"outbox_backlog": 0, "consumer_lag": {}}})
    page = signed_in(browser, staff).get("/staff/reconciliation").content.decode()
    assert "changes since 2026-01-01 00:00:00" in page and "all history" in page


def test_transfer_review_names_the_recipient_then_pays_with_the_form_key(browser, user_make, downstream):
    payer, payee = user_make("paula"), user_make("quinn")
    other = {**WALLET, "id": "33333333-3333-3333-3333-333333333333", "owner_id": payee.id}
    downstream.routes[("GET", "/wallets")] = lambda r: (200, [WALLET] if r.claims.get("token_type") else [other])
    transaction = {"id": "44444444-4444-4444-4444-444444444444", "status": "RESERVED"}
    downstream.answer("POST", "/transactions", 202, transaction)
    signed_in(browser, payer)
    form = {"from_wallet": WALLET["id"], "recipient": "quinn", "amount": "30.00", "idempotency_key": "k-1"}
    review = browser.post("/transfer", form)
    assert b"You are sending <strong>30.00 USD</strong> to <strong>quinn</strong>" in review.content
    assert not [r for r in downstream.requests if r.method == "POST"]
    paid = browser.post("/transfer", {**form, "step": "pay"})
    assert paid.status_code == 302 and paid["Location"] == f"/transactions/{transaction['id']}"
    sent = [r for r in downstream.requests if r.method == "POST"][0].body
    assert sent["idempotency_key"] == "k-1" and sent["to_wallet_id"] == other["id"] and sent["amount"] == "30.0000"


# --- Logout ends every way back in; forms are throttled like the API --------------------------------


def _expire_access_cookie(browser: Client, user) -> None:
    expired = {"user_id": user.id, "is_staff": False, "token_type": "access", "exp": int(time.time()) - 5}
    browser.cookies[settings.JWT_ACCESS_COOKIE] = jwt.encode(expired, settings.SIMPLE_JWT["SIGNING_KEY"], "RS256")


def _dashboard_answers(downstream) -> None:
    downstream.answer("GET", "/wallets", 200, [WALLET])
    downstream.answer("GET", f"/wallets/{WALLET['id']}/history", 200, {"results": [ENTRY], "next": None})
    downstream.answer("GET", "/activity", 200, {"results": [ENTRY], "next": None})


def _signed_in_with(refresh: str):
    """A fresh browser carrying only ``refresh``: is it let in?"""
    thief = Client()
    thief.cookies[settings.JWT_REFRESH_COOKIE] = refresh
    return thief.get("/")


def test_logout_ends_the_rotation_grace_of_an_old_refresh_cookie(browser, user, downstream):
    _dashboard_answers(downstream)
    assert browser.post("/login", {"username": user.username, "password": PASSWORD}).status_code == 302
    old_refresh = browser.cookies[settings.JWT_REFRESH_COOKIE].value
    _expire_access_cookie(browser, user)
    assert browser.get("/").status_code == 200  # rotated: the grace now maps the old cookie to the new pair
    assert browser.cookies[settings.JWT_REFRESH_COOKIE].value != old_refresh

    assert browser.post("/logout").status_code == 302

    response = _signed_in_with(old_refresh)
    assert response.status_code == 302 and response["Location"].startswith("/login")
    assert (
        not response.cookies.get(settings.JWT_ACCESS_COOKIE, None)
        or not response.cookies[settings.JWT_ACCESS_COOKIE].value
    )


def test_logout_with_an_expired_access_cookie_revokes_the_pair_it_was_renewed_to(browser, user, downstream):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    assert browser.post("/login", {"username": user.username, "password": PASSWORD}).status_code == 302
    old_refresh = browser.cookies[settings.JWT_REFRESH_COOKIE].value
    _expire_access_cookie(browser, user)

    assert browser.post("/logout").status_code == 302  # the middleware renews first, then the view logs out

    assert not OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True).exists()
    assert _signed_in_with(old_refresh).status_code == 302


def test_money_forms_share_the_users_money_throttle_with_the_api(browser, user, downstream, settings):
    from rest_framework.test import APIClient

    from conftest import access_token_for

    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "money": "2/min"}
    other = {**WALLET, "id": "33333333-3333-3333-3333-333333333333"}
    downstream.answer("GET", f"/wallets/{WALLET['id']}", 200, WALLET)
    downstream.answer("GET", "/wallets", 200, [WALLET])
    downstream.answer("GET", f"/wallets/{other['id']}", 200, other)
    downstream.answer("POST", "/transactions", 202, {"id": "44444444-4444-4444-4444-444444444444"})
    signed_in(browser, user)

    deposited = browser.post(f"/wallets/{WALLET['id']}/deposit", {"amount": "5", "idempotency_key": "k-1"})
    assert deposited.status_code == 302
    assert browser.get(f"/wallets/{WALLET['id']}/withdraw").status_code == 200  # showing a form is free
    withdrawn = browser.post(f"/wallets/{WALLET['id']}/withdraw", {"amount": "5", "idempotency_key": "k-2"})
    assert withdrawn.status_code == 302

    refused = browser.post(f"/wallets/{WALLET['id']}/deposit", {"amount": "5", "idempotency_key": "k-3"})
    assert refused.status_code == 429 and "Retry-After" in refused
    assert b"Too many requests" in refused.content
    paid = browser.post(
        "/transfer",
        {"from_wallet": WALLET["id"], "recipient": other["id"], "amount": "1", "idempotency_key": "k-4", "step": "pay"},
    )
    assert paid.status_code == 429
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    by_api = api.post(f"/api/v1/wallets/{WALLET['id']}/deposits", {"amount": "1"}, format="json",
                      HTTP_IDEMPOTENCY_KEY="k-5")  # fmt: skip
    assert by_api.status_code == 429  # one bucket per user, whichever door
    assert len([r for r in downstream.requests if r.method == "POST"]) == 2


def test_signup_and_login_forms_are_throttled_per_client_address(browser, user, settings):
    settings.THROTTLE_RATES = {**settings.THROTTLE_RATES, "auth": "2/min"}
    wrong = {"username": user.username, "password": "wrong-password-here"}
    statuses = [browser.post("/login", wrong, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(2)]
    assert statuses == [400, 400]
    assert browser.get("/login").status_code == 200  # showing a form is free
    signup = {"username": "newcomer", "email": "newcomer@example.com", "password": PASSWORD}
    refused = browser.post("/signup", signup, HTTP_X_FORWARDED_FOR="198.51.100.9")
    assert refused.status_code == 429 and b"Too many requests" in refused.content
    assert browser.post("/login", {"username": user.username, "password": PASSWORD}).status_code == 429


def test_a_username_locked_out_by_guesses_is_refused_on_the_login_page_too(browser, user, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    settings.LOGIN_USERNAME_FAILURE_LIMIT = 3
    for n in range(3):
        wrong = {"username": user.username, "password": "wrong-password-here"}
        assert browser.post("/login", wrong, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code == 400
    response = browser.post("/login", {"username": user.username, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert response.status_code == 400
    assert b"Too many failed login attempts" in response.content
    assert settings.JWT_ACCESS_COOKIE not in response.cookies


# --- Refunds and spending limits ---------------------------------------------------------------------

RECEIVED = {
    "id": "55555555-5555-5555-5555-555555555555", "type": "TRANSFER", "status": "SUCCESS", "amount": "10.0000",
    "currency": "USD", "from_wallet_id": "66666666-6666-6666-6666-666666666666", "to_wallet_id": WALLET["id"],
    "failure_reason": None, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:01Z",
    "reserved_at": None, "posted_at": None, "refund_of": None,
    "refunds": [{"id": "77777777-7777-7777-7777-777777777777", "amount": "4.0000", "currency": "USD",
                 "status": "SUCCESS"}],
}  # fmt: skip


def test_a_received_transfer_offers_a_refund_of_what_is_left_and_lists_its_refunds(browser, user, downstream):
    downstream.answer("GET", f"/transactions/{RECEIVED['id']}", 200, RECEIVED)
    downstream.answer("GET", "/wallets", 200, [WALLET])
    page = signed_in(browser, user).get(f"/transactions/{RECEIVED['id']}")
    assert b'id="refund"' in page.content and b'value="6.0000"' in page.content
    assert b"/transactions/77777777-7777-7777-7777-777777777777" in page.content
    # The payer's view of the same transfer (the receiving wallet is not theirs): no Refund button.
    downstream.answer("GET", "/wallets", 200, [{**WALLET, "id": RECEIVED["from_wallet_id"]}])
    assert b'id="refund"' not in browser.get(f"/transactions/{RECEIVED['id']}").content


def test_the_refund_form_posts_its_key_and_shows_a_refusal(browser, user, downstream):
    downstream.answer("GET", f"/transactions/{RECEIVED['id']}", 200, RECEIVED)
    downstream.answer("GET", "/wallets", 200, [WALLET])
    refund = {**RECEIVED, "id": "88888888-8888-8888-8888-888888888888", "type": "REFUND", "refund_of": RECEIVED["id"]}
    downstream.answer("POST", f"/transactions/{RECEIVED['id']}/refunds", 202, refund)
    signed_in(browser, user)
    done = browser.post(f"/transactions/{RECEIVED['id']}/refund", {"amount": "2", "idempotency_key": "rk-1"})
    assert done.status_code == 302 and done["Location"] == f"/transactions/{refund['id']}"
    assert downstream.requests[-1].body == {"amount": "2.0000", "idempotency_key": "rk-1"}
    over = {"code": "refund_exceeds_original", "detail": "Refunds of this transfer would add up to more than it."}
    downstream.answer("POST", f"/transactions/{RECEIVED['id']}/refunds", 422, over)
    refused = browser.post(f"/transactions/{RECEIVED['id']}/refund", {"amount": "7", "idempotency_key": "rk-2"})
    assert refused.status_code == 400 and b"would add up to more than it" in refused.content


def test_the_limits_page_shows_what_is_used_and_saves_blank_as_no_limit(browser, user, downstream):
    shown = {"daily_out": "10.0000", "monthly_out": None, "daily_used": "2.5000", "monthly_used": "2.5000"}
    downstream.answer("GET", f"/wallets/{WALLET['id']}", 200, WALLET)
    downstream.answer("GET", f"/wallets/{WALLET['id']}/limits", 200, shown)
    downstream.answer("PUT", f"/wallets/{WALLET['id']}/limits", 200, shown)
    page = signed_in(browser, user).get(f"/wallets/{WALLET['id']}/limits")
    assert b"2.50 USD of 10.00" in page.content
    saved = browser.post(f"/wallets/{WALLET['id']}/limits", {"daily_out": "12", "monthly_out": ""})
    assert saved.status_code == 302
    assert downstream.requests[-1].body == {"daily_out": "12.0000", "monthly_out": None}
    bad = browser.post(f"/wallets/{WALLET['id']}/limits", {"daily_out": "1e3", "monthly_out": ""})
    assert bad.status_code == 400 and downstream.requests[-1].method == "GET"
