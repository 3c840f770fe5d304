"""Reconciliation end to end: drift injected straight into a service's database is found exactly,
repaired without rewriting the journal, and money moving at the same time is never called drift.

Direct database access is used only to INJECT drift and to read the journal's rows; everything else
goes through the public gateway API (users, money) and the ledger's staff API (runs, repairs).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal

import httpx
import jwt
import psycopg
import pytest

from walletkit.devstack.stack import REPO_ROOT
from walletkit.testing.waiting import wait_until

PASSWORD = "Reconcile-" + uuid.uuid4().hex
JOURNAL = {
    "ledger_journal_entry": "id, transaction_id, type, created_at",
    "ledger_posting": "id, entry_id, account_id, amount, currency, created_at",
    "ledger_rejection": "id, transaction_id, reason, amount",
}


def token(stack, *, user_id: int, is_staff: bool) -> str:
    key = (stack.config.data_dir / "keys" / "jwt_private.pem").read_text()
    claims = {"user_id": user_id, "is_staff": is_staff, "token_type": "access", "exp": int(time.time()) + 600}
    return jwt.encode(claims, key, algorithm="RS256")


@pytest.fixture(scope="module")
def staff(stack):
    with httpx.Client(
        base_url=stack.config.url("ledger_service"), timeout=60,
        headers={"Authorization": f"Bearer {token(stack, user_id=900001, is_staff=True)}"},
    ) as client:  # fmt: skip
        yield client


def db(stack, name: str):
    return psycopg.connect(stack.config.database_url(name), autocommit=True)


class User:
    def __init__(self, gateway_url: str):
        self.client = httpx.Client(base_url=gateway_url + "/api/v1", timeout=30)
        name = f"rec{uuid.uuid4().hex[:10]}"
        created = self.client.post("/auth/register", json={"username": name, "email": f"{name}@example.com",
                                                            "password": PASSWORD})  # fmt: skip
        assert created.status_code == 201, created.text
        tokens = self.client.post("/auth/token", json={"username": name, "password": PASSWORD})
        self.client.headers["Authorization"] = f"Bearer {tokens.json()['access']}"
        wallets = self.client.get("/wallets").json()
        self.wallet_id = (wallets if isinstance(wallets, list) else wallets["results"])[0]["id"]

    def balance(self) -> Decimal:
        return Decimal(self.client.get(f"/wallets/{self.wallet_id}").json()["balance"])

    def deposit(self, amount: str) -> None:
        response = self.client.post(f"/wallets/{self.wallet_id}/deposits", json={"amount": amount},
                                    headers={"Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
        assert response.status_code == 202, response.text

    def transfer(self, to: User, amount: str) -> httpx.Response:
        return self.client.post(
            "/transfers", json={"from_wallet_id": self.wallet_id, "to_wallet_id": to.wallet_id, "amount": amount},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )  # fmt: skip


def settled(*pairs: tuple[User, str]) -> None:
    for user, amount in pairs:
        wait_until(lambda u=user, a=amount: u.balance() == Decimal(a), timeout=60, message=f"balance {amount}")


def run_now(staff) -> dict:
    response = staff.post("/reconciliation/runs")
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["status"] in ("CLEAN", "FINDINGS"), run
    return run


def critical(run: dict, subjects: set[str] | None = None) -> list[tuple[str, str, str, str]]:
    return sorted(
        (f["kind"], f["subject"], f["expected"], f["actual"])
        for f in run["findings"]
        if f["severity"] == "CRITICAL" and (subjects is None or f["subject"] in subjects)
    )


def journal_rows(stack) -> dict[str, set[tuple]]:
    with db(stack, "ledger") as conn:
        return {table: set(conn.execute(f"SELECT {cols} FROM {table}").fetchall()) for table, cols in JOURNAL.items()}


def test_staff_endpoints_refuse_everyone_else(stack):
    url = stack.config.url("ledger_service")
    user = {"Authorization": f"Bearer {token(stack, user_id=900002, is_staff=False)}"}
    paths = [("GET", "/reconciliation/runs"), ("POST", "/reconciliation/runs"),
             ("GET", "/reconciliation/totals"), ("POST", "/reconciliation/findings/1/resolve")]  # fmt: skip
    for method, path in paths:
        assert httpx.request(method, url + path, headers=user, json={}).status_code == 403
        assert httpx.request(method, url + path, json={}).status_code == 401


def test_injected_drift_is_found_exactly_and_repaired_by_appending_only(stack, gateway_url, staff):
    alice, bob = User(gateway_url), User(gateway_url)
    alice.deposit("100.0000")
    settled((alice, "100"))
    assert alice.transfer(bob, "10.0000").status_code == 202
    settled((alice, "90"), (bob, "10"))
    mine = {alice.wallet_id, bob.wallet_id}
    baseline = run_now(staff)
    assert critical(baseline, mine) == []
    journal_before = journal_rows(stack)

    # 1. A wallet's balance changed behind the ledger's back → found, then resynced from the ledger.
    with db(stack, "wallet") as conn:
        conn.execute("UPDATE wallet SET balance = balance + 7 WHERE id = %s", [alice.wallet_id])
    run = run_now(staff)
    assert critical(run, mine) == [("WALLET_BALANCE_DRIFT", alice.wallet_id, "90.0000", "97.0000")]
    assert len(critical(run)) == len(critical(baseline)) + 1
    again = run_now(staff)
    assert critical(again) == critical(run)  # unchanged data, same findings
    [finding] = [f for f in run["findings"] if f["subject"] == alice.wallet_id]
    resolved = staff.post(f"/reconciliation/findings/{finding['id']}/resolve",
                          json={"action": "resync", "reason": "snapshot edited by hand"})  # fmt: skip
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "RESOLVED" and resolved.json()["resolved_by"] == "staff:900001"
    assert alice.balance() == Decimal("90")
    assert critical(run_now(staff), mine) == []
    assert journal_rows(stack) == journal_before  # a resync writes nothing to the journal

    # 2. The ledger lost money the wallet rightly shows → an adjusting entry, appended.
    with db(stack, "wallet") as conn:
        conn.execute("UPDATE wallet SET balance = balance + 5 WHERE id = %s", [bob.wallet_id])
    run = run_now(staff)
    assert critical(run, mine) == [("WALLET_BALANCE_DRIFT", bob.wallet_id, "10.0000", "15.0000")]
    [finding] = [f for f in run["findings"] if f["subject"] == bob.wallet_id]
    resolved = staff.post(f"/reconciliation/findings/{finding['id']}/resolve",
                          json={"action": "adjust", "amount": "5.0000", "reason": "deposit event lost"})  # fmt: skip
    assert resolved.status_code == 200, resolved.text
    assert bob.balance() == Decimal("15")
    assert critical(run_now(staff), mine) == []

    journal_after = journal_rows(stack)
    for table, rows in journal_before.items():
        assert rows <= journal_after[table], f"{table}: a row changed or vanished"
    new_entries = journal_after["ledger_journal_entry"] - journal_before["ledger_journal_entry"]
    assert [row[2] for row in new_entries if row[2] == "ADJUSTMENT"] == ["ADJUSTMENT"]
    adjustment_id = next(row[0] for row in new_entries if row[2] == "ADJUSTMENT")
    postings = [p for p in journal_after["ledger_posting"] - journal_before["ledger_posting"] if p[1] == adjustment_id]
    assert sorted(p[3] for p in postings) == [Decimal("-5"), Decimal("5")]

    repairs = staff.get("/reconciliation/repairs").json()["results"]
    kinds = [(r["kind"], r["wallet_id"]) for r in repairs if r["wallet_id"] in mine]
    assert ("ADJUSTMENT", bob.wallet_id) in kinds and ("RESYNC", alice.wallet_id) in kinds
    with db(stack, "wallet") as conn:
        audited = conn.execute(
            "SELECT wallet_id::text, actor FROM wallet_resync WHERE wallet_id::text = ANY(%s)", [list(mine)]
        ).fetchall()
    assert {row[0] for row in audited} == mine and {row[1] for row in audited} == {"staff:900001"}


def test_a_run_during_live_traffic_reports_no_false_drift(stack, gateway_url, staff):
    people = [User(gateway_url) for _ in range(4)]
    for person in people:
        person.deposit("50.0000")
    settled(*[(person, "50") for person in people])
    mine = {person.wallet_id for person in people}
    stop = threading.Event()
    sent = []

    def pay(sender: User, receiver: User) -> None:
        while not stop.is_set() and len(sent) < 400:
            if sender.transfer(receiver, "0.5000").status_code == 202:
                sent.append(1)

    threads = [threading.Thread(target=pay, args=(people[i], people[(i + 1) % 4]), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    runs = []
    try:
        wait_until(lambda: len(sent) >= 10, timeout=60, message="traffic flowing")
        # Run until a run has had to account for money in flight (the case a naive comparison gets wrong).
        wait_until(lambda: runs.append(run_now(staff)) or runs[-1]["counts"]["in_flight_holds"] > 0,
                   timeout=60, message="a run with money in flight")  # fmt: skip
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert len(sent) >= 10 and all(critical(run, mine) == [] for run in runs), [critical(r, mine) for r in runs]
    # Once quiet, the money adds up: nothing created or lost between the four wallets.
    wait_until(lambda: sum(p.balance() for p in people) == Decimal("200") and critical(run_now(staff), mine) == [],
               timeout=60, message="books settle")  # fmt: skip


ENTRY_KINDS = {"SUCCESS_WITHOUT_ENTRY", "ENTRY_WITHOUT_SUCCESS", "ENTRY_WITHOUT_TRANSACTION", "ENTRY_AMOUNT_MISMATCH"}


def cron_run(stack, staff) -> dict:
    """``manage.py reconcile`` once, as cron runs it (incremental when it can be: decision 0020)."""
    done = subprocess.run(
        [sys.executable, "manage.py", "reconcile"], cwd=REPO_ROOT / "ledger_service",
        env={**os.environ, **stack.config.service_env("ledger_service")}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    found = re.match(r"run (\d+) ", done.stdout)
    assert found and done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    return staff.get(f"/reconciliation/runs/{found.group(1)}").json()


def entry_findings(run: dict) -> set[str]:
    return {f["subject"] for f in run["findings"] if f["kind"] in ENTRY_KINDS}


def test_incremental_runs_during_live_traffic_report_no_false_drift(stack, gateway_url, staff):
    """The same cut and rules over a window: money in flight is not drift, and every transfer made
    during the traffic is checked by a later run's window."""
    people = [User(gateway_url) for _ in range(3)]
    for person in people:
        person.deposit("30.0000")
    settled(*[(person, "30") for person in people])
    mine = {person.wallet_id for person in people}
    baseline = run_now(staff)  # full: what other tests may have left
    assert baseline["mode"] == "FULL" and critical(baseline, mine) == []
    stop, sent = threading.Event(), []

    def pay(sender: User, receiver: User) -> None:
        while not stop.is_set() and len(sent) < 300:
            if sender.transfer(receiver, "0.2500").status_code == 202:
                sent.append(1)

    threads = [threading.Thread(target=pay, args=(people[i], people[(i + 1) % 3]), daemon=True) for i in range(3)]
    for thread in threads:
        thread.start()
    runs = []
    try:
        wait_until(lambda: len(sent) >= 10, timeout=60, message="traffic flowing")
        wait_until(lambda: runs.append(cron_run(stack, staff)) or len(runs) >= 3, timeout=120, message="3 runs")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert {run["mode"] for run in runs} == {"INCREMENTAL"}, [(r["id"], r["mode"]) for r in runs]
    assert all(run["window_start"] and run["window_start"] < run["started_at"] for run in runs)
    for run in runs:
        assert critical(run, mine) == [] and entry_findings(run) <= entry_findings(baseline), critical(run)
    # Quiet: a run's window holds every transfer, each SUCCESS checked against its entry, and no drift.
    finals = []

    def all_checked() -> bool:
        finals.append(cron_run(stack, staff))
        return finals[-1]["counts"]["success_transactions"] >= len(sent) and critical(finals[-1], mine) == []

    wait_until(all_checked, timeout=90, message="the window checks every transfer")
    assert finals[-1]["mode"] == "INCREMENTAL" and entry_findings(finals[-1]) <= entry_findings(baseline)
