"""Statements and balances over time on the real stack (API.md "Additions"; decision 0012).

The invariant: opening + Σ signed lines = closing = ``balance?at=`` the end of the period, with
the figures from the ledger; refused movements are not lines. A period is whole UTC days, so the
cut through a busy day is checked at an instant: ``balance?at=t`` between two movements equals the
running ``balance_after`` of the last line at or before t.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from tests.people import Person


def settle(person: Person, response) -> dict:
    assert response.status_code in (202, 422), response.text
    body = response.json()
    transaction = body.get("transaction", body)
    return person.wait_final(transaction["id"])


def signed(line: dict) -> Decimal:
    return Decimal(line["amount"]) * (1 if line["direction"] == "CREDIT" else -1)


def end_of(day: str) -> str:
    return f"{day}T23:59:59.999999Z"


@pytest.fixture(scope="module")
def busy_day(gateway_url):
    """Alice's busy day: deposits, withdrawals, transfers in and out, refused ones, and an instant
    in the middle of it."""
    alice, bob = Person.sign_up(gateway_url, prefix="alice"), Person.sign_up(gateway_url, prefix="bob")
    bob.fund("50")
    done = [
        settle(alice, alice.deposit("100")),
        settle(alice, alice.pay(bob.wallet_id, "30")),
        settle(alice, bob.pay(alice.wallet_id, "12.3456")),
    ]
    middle = datetime.now(UTC)
    done += [
        settle(alice, alice.withdraw("20.5")),
        settle(alice, alice.withdraw("1000")),  # refused: insufficient funds
        settle(alice, alice.pay(bob.wallet_id, "5000")),  # refused
        settle(alice, alice.deposit("7")),
        settle(alice, bob.pay(alice.wallet_id, "1")),
    ]
    return alice, bob, done, middle


def test_statement_adds_up_to_the_ledger_balance_and_leaves_refused_movements_out(busy_day):
    alice, bob, done, middle = busy_day
    today = datetime.now(UTC).date().isoformat()
    response = alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": today, "to": today})
    assert response.status_code == 200, response.text
    statement = response.json()
    lines = statement["lines"]

    succeeded = [t["id"] for t in done if t["status"] == "SUCCESS"]
    assert len(succeeded) == 6 and len(done) - len(succeeded) == 2
    assert [line["transaction_id"] for line in lines] == succeeded  # oldest first, refused ones absent
    assert (statement["wallet_id"], statement["currency"], statement["from"], statement["to"]) == (
        alice.wallet_id, alice.wallet()["currency"], today, today,
    )  # fmt: skip
    opening, closing = Decimal(statement["opening_balance"]), Decimal(statement["closing_balance"])
    assert opening == 0
    assert opening + sum(signed(line) for line in lines) == closing == Decimal("69.8456")
    at_end = alice.get(f"/wallets/{alice.wallet_id}/balance", at=end_of(today)).json()
    assert Decimal(at_end["balance"]) == closing == alice.balance()
    assert Decimal(statement["total_in"]) - Decimal(statement["total_out"]) == closing - opening

    running = opening
    for line in lines:
        running += signed(line)
        assert Decimal(line["balance_after"]) == running
    assert [(line["type"], line["direction"], line["counterparty"]) for line in lines[:3]] == [
        ("DEPOSIT", "CREDIT", None),
        ("TRANSFER", "DEBIT", {"username": bob.username, "wallet_id": bob.wallet_id}),
        ("TRANSFER", "CREDIT", {"username": bob.username, "wallet_id": bob.wallet_id}),
    ]

    # The cut through the day: the balance at an instant between two movements.
    before_middle = [line for line in lines if datetime.fromisoformat(line["occurred_at"]) <= middle]
    at_middle = alice.get(f"/wallets/{alice.wallet_id}/balance", at=middle.isoformat()).json()
    assert len(before_middle) == 3
    assert Decimal(at_middle["balance"]) == Decimal(before_middle[-1]["balance_after"]) == Decimal("82.3456")


def test_periods_before_and_across_the_day_agree(busy_day):
    alice, _, _, _ = busy_day
    today = datetime.now(UTC).date()
    yesterday = (today - timedelta(days=1)).isoformat()
    before = alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": yesterday, "to": yesterday}).json()
    assert (before["opening_balance"], before["closing_balance"], before["lines"]) == ("0.0000", "0.0000", [])
    across = alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": yesterday, "to": today.isoformat()})
    just_today = alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": today.isoformat()}).json()
    assert across.json()["closing_balance"] == just_today["closing_balance"]
    assert across.json()["lines"] == just_today["lines"]
    at_yesterday = alice.get(f"/wallets/{alice.wallet_id}/balance", at=end_of(yesterday)).json()
    assert at_yesterday["balance"] == "0.0000"


def test_default_period_is_this_month(busy_day):
    alice, _, _, _ = busy_day
    today = datetime.now(UTC).date()
    statement = alice.get(f"/wallets/{alice.wallet_id}/statement").json()
    assert statement["from"] == today.replace(day=1).isoformat()
    assert date.fromisoformat(statement["to"]).month == today.month and len(statement["lines"]) == 6


def test_csv_statement_is_a_spreadsheet_of_the_same_lines(busy_day):
    alice, bob, _, _ = busy_day
    today = datetime.now(UTC).date().isoformat()
    as_json = alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": today, "to": today}).json()
    response = alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": today, "to": today, "format": "csv"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "content-length" not in response.headers  # streamed
    assert response.headers["content-disposition"] == (
        f'attachment; filename="statement-{alice.wallet_id}-{today}-{today}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [row["transaction_id"] for row in rows] == [line["transaction_id"] for line in as_json["lines"]]
    assert [row["balance_after"] for row in rows] == [line["balance_after"] for line in as_json["lines"]]
    assert rows[1]["counterparty_username"] == bob.username and rows[1]["amount"] == "30.0000"
    assert (
        rows[0]["currency"] == alice.wallet()["currency"]
        and datetime.fromisoformat(rows[0]["occurred_at"]).tzinfo is not None
    )


def test_pdf_statement_reads_back_with_owner_totals_and_lines(busy_day):
    alice, bob, _, _ = busy_day
    today = datetime.now(UTC).date().isoformat()
    response = alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": today, "to": today, "format": "pdf"})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].endswith(f'{today}-{today}.pdf"')
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for expected in (alice.username, alice.wallet_id, f"{today} to {today}", "Opening balance:", "0.0000",
                     "Closing balance:", "69.8456", "Total out:", "50.5000", bob.username, "-30.0000",
                     "+12.3456", "82.3456", "page 1 of 1"):  # fmt: skip
        assert expected in text, expected


def test_a_strangers_wallet_has_no_statement_or_balance(busy_day, gateway_url):
    alice, _, _, _ = busy_day
    mallory = Person.sign_up(gateway_url, prefix="mallory")
    for path in (f"/wallets/{alice.wallet_id}/statement", f"/wallets/{alice.wallet_id}/balance"):
        response = mallory.get(path)
        assert (response.status_code, response.json()["code"]) == (404, "wallet_not_found"), path
    assert mallory.get(f"/wallets/{alice.wallet_id}/statement", format="csv").status_code == 404


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2024-12-31", "to": "2026-01-01"}, "period_too_long"),  # 367 days; 366 is the most
        ({"from": "2026-02-01", "to": "2026-01-31"}, "invalid"),
        ({"from": "yesterday"}, "invalid"),
        ({"format": "xlsx"}, "invalid"),
        ({"from": "9999-12-31", "to": "9999-12-31"}, "invalid"),
    ],
)
def test_bad_periods_and_formats_are_400(busy_day, params, code):
    alice, _, _, _ = busy_day
    response = alice.get(f"/wallets/{alice.wallet_id}/statement", **params)
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert (
        alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": "2024-01-01", "to": "2024-12-31"}).status_code
        == 200
    )


def test_bad_instant_is_400(busy_day):
    alice, _, _, _ = busy_day
    response = alice.get(f"/wallets/{alice.wallet_id}/balance", at="noon")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_transactions_history_and_pushes_name_the_other_side_as_it_is_now(gateway_url, stack):
    from tests.invariants import query
    from tests.test_history_privacy import live_socket, pushes_until_final

    alice, bob = Person.sign_up(gateway_url, prefix="alice"), Person.sign_up(gateway_url, prefix="bob")
    alice.fund("10")
    ws_url = gateway_url.replace("http://", "ws://") + "/ws/transactions/"
    with live_socket(ws_url, gateway_url, bob) as socket:
        paid = alice.pay(bob.wallet_id, "4")
        assert paid.status_code == 202 and paid.json()["counterparty"] == {
            "username": bob.username, "wallet_id": bob.wallet_id,
        }  # fmt: skip
        pushes = pushes_until_final(socket, paid.json()["id"])
    to_bob = {"username": bob.username, "wallet_id": bob.wallet_id}
    from_alice = {"username": alice.username, "wallet_id": alice.wallet_id}
    assert pushes[-1]["transaction"]["counterparty"] == from_alice  # bob sees who paid him
    transaction_id = paid.json()["id"]
    assert alice.transaction(transaction_id)["counterparty"] == to_bob
    assert bob.transaction(transaction_id)["counterparty"] == from_alice
    [alice_entry] = [e for e in alice.get("/activity").json()["results"] if e["transaction_id"] == transaction_id]
    [bob_entry] = [e for e in bob.get("/activity").json()["results"] if e["transaction_id"] == transaction_id]
    assert (alice_entry["counterparty"], bob_entry["counterparty"]) == (to_bob, from_alice)
    deposits = [e for e in alice.get("/activity").json()["results"] if e["type"] == "DEPOSIT"]
    assert deposits and all(e["counterparty"] is None for e in deposits)

    renamed = f"robert{bob.username[3:]}"
    query(
        stack, "gateway", "UPDATE auth_user SET username = %s WHERE username = %s RETURNING id", (renamed, bob.username)
    )
    assert alice.transaction(transaction_id)["counterparty"]["username"] == renamed
    listed = alice.get("/transactions", wallet=alice.wallet_id).json()["results"]
    assert [t["counterparty"]["username"] for t in listed if t["id"] == transaction_id] == [renamed]
    today = datetime.now(UTC).date().isoformat()
    lines = alice.get(f"/wallets/{alice.wallet_id}/statement", **{"from": today, "to": today}).json()["lines"]
    assert lines[-1]["counterparty"] == {"username": renamed, "wallet_id": bob.wallet_id}
