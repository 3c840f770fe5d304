"""The statement page in headless Chromium: period picker, totals, lines with names, downloads."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import expect
from pypdf import PdfReader

from tests.people import Person
from tests.test_browser import browser, log_in, tabs  # noqa: F401 (fixtures)


def test_statement_page_shows_the_month_and_downloads_csv_and_pdf(gateway_url, tabs):  # noqa: F811
    alice, bob = Person.sign_up(gateway_url, prefix="alice"), Person.sign_up(gateway_url, prefix="bob")
    alice.fund("40")
    paid = alice.pay(bob.wallet_id, "15.25")
    assert alice.wait_final(paid.json()["id"])["status"] == "SUCCESS"

    tab = tabs()
    log_in(tab, alice.username)
    page = tab.page
    expect(page.get_by_role("heading", name="Your wallets")).to_be_visible()
    page.goto(f"/wallets/{alice.wallet_id}")
    page.get_by_role("link", name="Statement").click()
    page.get_by_label("Period", exact=True).select_option("this")
    page.get_by_role("button", name="Show").click()
    assert page.locator(".opening").inner_text() == "0.00"
    assert page.locator(".total-in").inner_text() == "40.00"
    assert page.locator(".total-out").inner_text() == "15.25"
    assert page.locator(".closing").inner_text() == "24.75"
    assert page.locator("table.statement .counterparty").all_inner_texts() == [f"to {bob.username}"]
    tab.shoot("statement")

    # The buttons download files (not boosted by htmx into the page).
    today = datetime.now(UTC).date()
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="Download CSV").click()
    assert csv_download.value.suggested_filename.startswith(f"statement-{alice.wallet_id}-{today:%Y-%m}-01-")
    rows = list(csv.DictReader(io.StringIO(Path(csv_download.value.path()).read_text("utf-8-sig"))))
    assert [row["balance_after"] for row in rows] == ["40.0000", "24.7500"]
    with page.expect_download() as pdf_download:
        page.get_by_role("link", name="Download PDF").click()
    assert pdf_download.value.suggested_filename.endswith(".pdf")
    text = PdfReader(pdf_download.value.path()).pages[0].extract_text()
    assert alice.username in text and bob.username in text and "24.7500" in text

    page.get_by_label("Period", exact=True).select_option("custom")
    page.get_by_label("From", exact=True).fill("2024-01-01")
    page.get_by_label("To", exact=True).fill("2025-06-01")
    page.get_by_role("button", name="Show").click()
    assert "366 days" in page.locator(".field-error").inner_text()


def test_dashboard_and_transaction_page_name_the_other_side(gateway_url, tabs):  # noqa: F811
    alice, bob = Person.sign_up(gateway_url, prefix="alice"), Person.sign_up(gateway_url, prefix="bob")
    alice.fund("10")
    paid = alice.pay(bob.wallet_id, "3")
    assert bob.wait_final(paid.json()["id"])["status"] == "SUCCESS"

    tab = tabs()
    log_in(tab, bob.username)
    page = tab.page
    expect(page.get_by_role("heading", name="Your wallets")).to_be_visible()
    page.goto("/")
    assert f"from {alice.username}" in page.locator(".counterparty").all_inner_texts()
    page.goto(f"/transactions/{paid.json()['id']}")
    assert page.locator(".party-from").inner_text().startswith(alice.username)
    assert page.locator(".party-to").inner_text().startswith("you")
