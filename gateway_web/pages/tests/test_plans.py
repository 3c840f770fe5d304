"""/scheduled and /requests against a real HTTP stand-in for the services (conftest ``downstream``)."""

from __future__ import annotations

from pages.tests.test_views import WALLET, browser, signed_in  # noqa: F401 (fixture)

SCHEDULE = {
    "id": "55555555-5555-5555-5555-555555555555", "from_wallet_id": WALLET["id"],
    "to_wallet_id": "33333333-3333-3333-3333-333333333333", "amount": "4.0000", "currency": "USD", "note": "",
    "repeat": "daily", "start_date": "2026-01-01", "end_date": None, "status": "ACTIVE", "next_run_on": "2026-01-01",
    "created_at": "2026-01-01T00:00:00Z", "runs": [],
}  # fmt: skip


def test_a_resubmitted_schedule_form_creates_one_schedule(browser, user_make, downstream):  # noqa: F811
    payer, payee = user_make("paula"), user_make("quinn")
    other = {**WALLET, "id": SCHEDULE["to_wallet_id"], "owner_id": payee.id}
    downstream.routes[("GET", "/wallets")] = lambda r: (200, [WALLET] if r.claims.get("token_type") else [other])
    downstream.answer("POST", "/scheduled-transfers", 201, SCHEDULE)
    downstream.answer("GET", "/scheduled-transfers", 200, [SCHEDULE])
    signed_in(browser, payer)
    form = {"from_wallet": WALLET["id"], "recipient": "quinn", "amount": "4", "start_date": "2099-01-01",
            "repeat": "daily", "idempotency_key": "form-1"}  # fmt: skip
    for _ in range(3):  # a double click, then a refresh that re-posts
        response = browser.post("/scheduled", form)
        assert response.status_code == 302, response.content
    created = [r for r in downstream.requests if (r.method, r.path) == ("POST", "/scheduled-transfers")]
    assert len(created) == 1
    assert (created[0].body["to_wallet_id"], created[0].body["amount"]) == (other["id"], "4.0000")
    assert browser.post("/scheduled", {**form, "idempotency_key": "form-2"}).status_code == 302
    assert len([r for r in downstream.requests if (r.method, r.path) == ("POST", "/scheduled-transfers")]) == 2


def test_a_refused_schedule_form_frees_its_key_for_the_corrected_form(browser, user_make, downstream):  # noqa: F811
    payer, payee = user_make("paula"), user_make("quinn")
    other = {**WALLET, "id": SCHEDULE["to_wallet_id"], "owner_id": payee.id}
    downstream.routes[("GET", "/wallets")] = lambda r: (200, [WALLET] if r.claims.get("token_type") else [other])
    downstream.answer("GET", "/scheduled-transfers", 200, [])
    refusal = {"code": "invalid", "detail": "No.", "errors": {"start_date": ["Must be today or later."]}}
    downstream.answer("POST", "/scheduled-transfers", 400, refusal)
    signed_in(browser, payer)
    form = {"from_wallet": WALLET["id"], "recipient": "quinn", "amount": "4", "start_date": "2099-01-01",
            "repeat": "daily", "idempotency_key": "form-1"}  # fmt: skip
    refused = browser.post("/scheduled", form)
    assert refused.status_code == 400 and b"Must be today or later." in refused.content
    downstream.answer("POST", "/scheduled-transfers", 201, SCHEDULE)
    assert browser.post("/scheduled", form).status_code == 302


def test_a_resubmitted_request_form_asks_once_and_an_unknown_payer_is_a_form_error(browser, user_make, downstream):  # noqa: F811
    requester, _payer = user_make("rita"), user_make("sam")
    downstream.answer("GET", "/wallets", 200, [WALLET])
    downstream.answer("GET", "/payment-requests", 200, {"results": [], "next": None})
    downstream.answer("POST", "/payment-requests", 201, {"id": "66666666-6666-6666-6666-666666666666"})
    signed_in(browser, requester)
    form = {"to_wallet": WALLET["id"], "payer_username": "sam", "amount": "9", "idempotency_key": "form-1"}
    for _ in range(2):
        assert browser.post("/requests", form).status_code == 302
    [created] = [r for r in downstream.requests if (r.method, r.path) == ("POST", "/payment-requests")]
    assert (created.body["payer_username"], created.body["requester_username"]) == ("sam", "rita")
    assert created.claims["svc"] == "gateway" and created.claims["user_id"] == requester.id
    unknown = browser.post("/requests", {**form, "payer_username": "nobody", "idempotency_key": "form-2"})
    assert unknown.status_code == 400 and b"No such user." in unknown.content
