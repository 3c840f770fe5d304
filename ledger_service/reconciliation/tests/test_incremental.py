"""Incremental runs (decision 0020): a run checks what changed since the previous run's start (minus
the clock margin), with the same rules as a full run; full runs still come first, on ``--full``, from
staff, and every RECONCILE_FULL_EVERY seconds.

The ledger is real (PostgreSQL, its services); the transaction and wallet services are real HTTP
servers (walletkit.testing.fake_service) answering from ``Books``, so what a run asked for is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command
from django.utils import timezone

from ledger.tests.conftest import deposit
from reconciliation.models import ReconciliationRun
from reconciliation.services import run_execute
from walletkit.testing.clients import client_with
from walletkit.testing.fake_service import Call, FakeService, serve_as
from walletkit.testing.tokens import user_token

pytestmark = pytest.mark.django_db

TRANSACTION_KINDS = {"SUCCESS_WITHOUT_ENTRY", "ENTRY_WITHOUT_SUCCESS", "ENTRY_WITHOUT_TRANSACTION",
                     "ENTRY_AMOUNT_MISMATCH"}  # fmt: skip
OLD = 200
WALLET = uuid.uuid4()


@dataclass
class Books:
    """The transaction service's rows as the fake serves them."""

    transactions: dict[str, dict] = field(default_factory=dict)
    service: FakeService | None = None  # the fake transaction service, which records the calls
    before_lookup: Callable[[], None] | None = None  # what happens between the pages and a lookup

    def add(self, *, status: str = "SUCCESS", amount: str = "10.0000", tx_id: uuid.UUID | None = None) -> str:
        tx_id = str(tx_id or uuid.uuid4())
        self.transactions[tx_id] = {
            "id": tx_id, "type": "DEPOSIT", "status": status, "amount": amount, "currency": "EUR",
            "from_wallet_id": None, "to_wallet_id": str(WALLET), "created_at": timezone.now().isoformat(),
            "updated_at": timezone.now(),
        }  # fmt: skip
        return tx_id

    def change(self, tx_id: str, **fields) -> None:
        """A status change as the service makes it: updated_at moves."""
        self.transactions[tx_id] |= fields | {"updated_at": timezone.now()}

    def shape(self, tx: dict) -> dict:
        return tx | {"updated_at": tx["updated_at"].isoformat()}

    def listing(self, call: Call) -> tuple[int, dict]:
        query = {key: values[0] for key, values in parse_qs(urlsplit(call.path).query).items()}
        if "changed_since" in query:
            since = datetime.fromisoformat(query["changed_since"])
            rows = sorted((tx for tx in self.transactions.values() if tx["updated_at"] >= since),
                          key=lambda tx: (tx["updated_at"], tx["id"]))  # fmt: skip
            return 200, {"results": [self.shape(tx) for tx in rows], "next": None}
        rows = sorted((tx for tx in self.transactions.values() if tx["status"] == query.get("status")),
                      key=lambda tx: tx["id"])  # fmt: skip
        rows = [tx for tx in rows if tx["id"] > query.get("after", "")][: int(query["limit"]) + 1]
        limit = int(query["limit"])
        next_after = rows[limit - 1]["id"] if len(rows) > limit else None
        return 200, {"results": [self.shape(tx) for tx in rows[:limit]], "next": next_after}

    def lookup(self, call: Call) -> tuple[int, dict]:
        if self.before_lookup is not None:
            self.before_lookup()
        return 200, {"results": [self.shape(self.transactions[i]) for i in call.body["ids"] if i in self.transactions]}


@pytest.fixture
def books(settings):
    """Fakes of the transaction, wallet and history services; no clock margin, so the window starts
    exactly at the previous run's start."""
    settings.RECONCILE_CLOCK_MARGIN = 0
    settings.RECONCILE_FULL_EVERY = 86400
    books = Books()
    empty = (200, {"results": [], "next": None})
    servers = {name: serve_as(name, settings) for name in ("transaction", "wallet", "history")}
    fakes = {name: next(server) for name, server in servers.items()}
    for fake in fakes.values():
        fake.route("GET", "/internal/dead-letters", empty)
    transaction = books.service = fakes["transaction"]
    transaction.route("GET", "/internal/reconciliation/transactions", books.listing)
    transaction.route("POST", "/internal/reconciliation/transactions/lookup", books.lookup)
    transaction.route("GET", "/internal/reconciliation/stuck-sagas", (200, {"results": [], "older_than": 70}))
    transaction.route("GET", "/internal/reconciliation/anomalies", empty)
    no_wallets = (200, {"wallets": [], "holds": [], "next": None})  # wallet checks are not what this tests
    fakes["wallet"].route("GET", "/internal/reconciliation/wallets", no_wallets)
    yield books
    for server in servers.values():
        next(server, None)  # shut it down


def posted(books: Books, amount: str = "10", *, status: str = "SUCCESS", tx_amount: str | None = None) -> str:
    """A transaction and its entry (the entry may move another amount than the transaction)."""
    tx_id = books.add(status=status, amount=f"{Decimal(tx_amount or amount):.4f}")
    deposit(WALLET, amount, transaction_id=uuid.UUID(tx_id))
    return tx_id


def listing_calls(books: Books) -> list[dict]:
    return [
        {key: values[0] for key, values in parse_qs(urlsplit(call.path).query).items()}
        for call in books.service.calls_to("GET", "/internal/reconciliation/transactions")
    ]


def transaction_findings(run: ReconciliationRun, books: Books) -> list[tuple[str, str]]:
    """About this test's transactions (journal entries other tests committed stay: the journal is append-only)."""
    found = run.findings.filter(kind__in=TRANSACTION_KINDS, subject__in=list(books.transactions))
    return sorted(found.values_list("kind", "subject"))


def cron_run(books: Books) -> ReconciliationRun:
    books.service.calls.clear()
    return run_execute(trigger="cron")


def test_the_first_run_ever_is_full(books):
    for _ in range(3):
        posted(books)
    run = cron_run(books)
    assert (run.mode, run.window_start) == ("FULL", None)
    assert [call.get("status") for call in listing_calls(books)] == ["SUCCESS"]
    assert run.counts["success_transactions"] == 3 and transaction_findings(run, books) == []


def test_an_incremental_run_finds_what_changed_in_the_window_and_reads_nothing_older(books):
    for _ in range(OLD):
        posted(books)
    in_flight_then_mismatched = posted(books, "5", status="RESERVED", tx_amount="6")
    in_flight_then_failed = posted(books, "7", status="RESERVED")
    first = cron_run(books)
    assert first.mode == "FULL" and transaction_findings(first, books) == []

    fine = posted(books)
    mismatch = posted(books, "3", tx_amount="4")
    without_entry = books.add(status="SUCCESS")
    entry_of_failed = posted(books, status="FAILED")
    books.change(in_flight_then_mismatched, status="SUCCESS")  # its entry is older than the window
    books.change(in_flight_then_failed, status="FAILED")  # likewise: a FAILED one is in the window too
    second = cron_run(books)

    assert (second.mode, second.window_start) == ("INCREMENTAL", first.started_at)
    assert listing_calls(books) == [{"changed_since": first.started_at.isoformat(), "limit": "500"}]
    assert transaction_findings(second, books) == sorted([
        ("ENTRY_AMOUNT_MISMATCH", mismatch), ("ENTRY_AMOUNT_MISMATCH", in_flight_then_mismatched),
        ("SUCCESS_WITHOUT_ENTRY", without_entry),
        ("ENTRY_WITHOUT_SUCCESS", entry_of_failed), ("ENTRY_WITHOUT_SUCCESS", in_flight_then_failed),
    ])  # fmt: skip
    # The window's 4 SUCCESS transactions and 5 entries, not the OLD ones (and the first run's findings again:
    # entries other tests left without a transaction).
    carried = first.findings.filter(kind__in=TRANSACTION_KINDS).count()
    assert (second.counts["success_transactions"], second.counts["entries"]) == (4, 5 + carried)
    assert fine not in {subject for _kind, subject in transaction_findings(second, books)}


def test_an_incremental_run_reports_the_previous_runs_defects_until_they_are_gone(books):
    """Else the findings gauge (and its alert) would clear after one run while the defect stays."""
    posted(books)
    cron_run(books)
    without_entry = books.add(status="SUCCESS")
    assert transaction_findings(cron_run(books), books) == [("SUCCESS_WITHOUT_ENTRY", without_entry)]
    still = cron_run(books)
    assert still.mode == "INCREMENTAL"
    assert transaction_findings(still, books) == [("SUCCESS_WITHOUT_ENTRY", without_entry)]
    deposit(WALLET, "10", transaction_id=uuid.UUID(without_entry))  # the missing entry, posted at last
    assert transaction_findings(cron_run(books), books) == []


def test_a_defect_older_than_the_window_is_found_by_the_next_full_run(books, settings):
    tx_id = posted(books)
    first = cron_run(books)
    # Changed by hand, its timestamp left old: no incremental window sees it.
    books.transactions[tx_id]["amount"] = "11.0000"
    assert transaction_findings(cron_run(books), books) == []
    # RECONCILE_FULL_EVERY after the last full run, the cron's run is full again and finds it.
    ReconciliationRun.objects.filter(id=first.id).update(started_at=timezone.now() - timedelta(seconds=86401))
    periodic = cron_run(books)
    assert periodic.mode == "FULL" and transaction_findings(periodic, books) == [("ENTRY_AMOUNT_MISMATCH", tx_id)]


def test_full_forces_a_full_run_from_the_command_and_staff_runs_are_full(books):
    tx_id = posted(books)
    cron_run(books)
    books.transactions[tx_id]["amount"] = "11.0000"  # by hand, as above
    with pytest.raises(SystemExit):
        call_command("reconcile", "--full")
    forced = ReconciliationRun.objects.latest("id")
    assert forced.mode == "FULL" and transaction_findings(forced, books) == [("ENTRY_AMOUNT_MISMATCH", tx_id)]

    body = client_with(user_token(1, is_staff=True)).post("/reconciliation/runs").json()
    assert (body["mode"], body["window_start"]) == ("FULL", None)
    listed = client_with(user_token(1, is_staff=True)).get("/reconciliation/runs").json()["results"]
    assert [run["mode"] for run in listed[:3]] == ["FULL", "FULL", "FULL"]


def test_a_failed_run_does_not_move_the_window(books):
    posted(books)
    first = cron_run(books)
    ReconciliationRun.objects.create(started_at=timezone.now(), trigger="cron", status="FAILED", error="down")
    late = books.add(status="SUCCESS")
    run = cron_run(books)
    assert run.window_start == first.started_at
    assert transaction_findings(run, books) == [("SUCCESS_WITHOUT_ENTRY", late)]


def test_the_window_starts_a_clock_margin_before_the_previous_run_so_a_late_commit_is_seen(books, settings):
    """A row is stamped before it commits: one stamped before the previous run started but committed
    after that run read past it is in the next window only thanks to the margin."""
    settings.RECONCILE_CLOCK_MARGIN = 120
    first = cron_run(books)
    late = books.add(status="SUCCESS")  # committed now...
    books.transactions[late]["updated_at"] = first.started_at - timedelta(seconds=60)  # ...stamped before `first`
    run = cron_run(books)
    assert run.window_start == first.started_at - timedelta(seconds=120)
    assert transaction_findings(run, books) == [("SUCCESS_WITHOUT_ENTRY", late)]


def test_a_pair_that_agrees_only_at_the_recheck_is_compared_there(books):
    """An entry whose transaction succeeded between the pages and the recheck: compared then, since no
    later window may hold it."""
    cron_run(books)
    tx_id = posted(books, "5", status="RESERVED")
    books.before_lookup = lambda: books.transactions[tx_id].update(status="SUCCESS", amount="6.0000")
    assert transaction_findings(cron_run(books), books) == [("ENTRY_AMOUNT_MISMATCH", tx_id)]
