"""Scheduled transfers end to end: the public API, the scheduler process (transaction_service's Procfile,
under the stack's supervisor), the saga and the websocket. Faults: a second scheduler at once, and a
scheduler SIGKILLed in the middle of a run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from websockets.sync.client import connect

from tests import invariants
from tests.people import Person
from walletkit.devstack.stack import REPO_ROOT, Stack
from walletkit.testing.waiting import wait_until

RUN_DEADLINE = 60.0  # created → its run's transfer SUCCESS through every worker; the wait ends when it does


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def schedule_create(payer: Person, payee: Person, amount: str, *, repeat: str = "daily", **extra) -> dict:
    body = {"from_wallet_id": payer.wallet_id, "to_wallet_id": payee.wallet_id, "amount": amount,
            "start_date": today(), "repeat": repeat, **extra}  # fmt: skip
    response = payer.post("/scheduled-transfers", body)
    assert response.status_code == 201, response.text
    return response.json()


def schedule_get(owner: Person, schedule_id: str) -> dict:
    response = owner.get(f"/scheduled-transfers/{schedule_id}")
    assert response.status_code == 200, response.text
    return response.json()


def first_run_final(owner: Person, schedule_id: str, *, timeout: float = RUN_DEADLINE) -> dict:
    def final_run():
        runs = schedule_get(owner, schedule_id)["runs"]
        return runs and runs[0]["status"] in ("SUCCESS", "FAILED") and runs[0]

    return wait_until(final_run, timeout=timeout, message=f"the first run of {schedule_id} final")


def transfers_of(stack: Stack, schedule_id: str) -> list[tuple]:
    return invariants.query(
        stack, "transaction", "SELECT id, status FROM transaction WHERE idempotency_key LIKE %s",
        (f"schedule:{schedule_id}:%",),
    )  # fmt: skip


def test_a_schedule_starting_today_pays_within_seconds_and_shows_its_run(stack, alice, bob):
    alice.fund("30")
    schedule = schedule_create(alice, bob, "12.5", note="rent")
    run = first_run_final(alice, schedule["id"])
    assert (run["run_on"], run["status"]) == (today(), "SUCCESS")
    assert alice.transaction(run["transaction_id"])["amount"] == "12.5000"
    assert (alice.balance(), bob.balance()) == (Decimal("17.5"), Decimal("12.5"))
    shown = schedule_get(alice, schedule["id"])
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    assert (shown["status"], shown["next_run_on"], len(shown["runs"])) == ("ACTIVE", tomorrow, 1)
    assert bob.get(f"/scheduled-transfers/{schedule['id']}").status_code == 404


def test_a_run_refused_for_funds_is_failed_pushed_to_the_owner_and_the_schedule_goes_on(stack, gateway_url, alice, bob):
    ws_url = gateway_url.replace("http://", "ws://") + "/ws/transactions/"
    with connect(ws_url, origin=gateway_url, proxy=None, open_timeout=10) as socket:
        socket.send(json.dumps({"type": "auth", "token": alice.access}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "auth.ok"}
        schedule = schedule_create(alice, bob, "5")
        run = first_run_final(alice, schedule["id"])
        assert (run["status"], run["failure_reason"]) == ("FAILED", "insufficient_funds")

        def pushed_failed():
            message = json.loads(socket.recv(timeout=RUN_DEADLINE))
            return message.get("type") == "transaction.status" and message["transaction"]["id"] == run[
                "transaction_id"] and message["transaction"]["status"] == "FAILED"  # fmt: skip

        wait_until(pushed_failed, timeout=RUN_DEADLINE, interval=0, message="the FAILED run pushed to its owner")
    shown = schedule_get(alice, schedule["id"])
    assert shown["status"] == "ACTIVE" and shown["next_run_on"] > today()


def test_a_schedule_is_paused_resumed_edited_then_cancelled_and_records_no_run(stack, alice, bob):
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    schedule = schedule_create(alice, bob, "5", start_date=tomorrow, repeat="monthly")
    path = f"/scheduled-transfers/{schedule['id']}"
    paused = alice.client.patch(path, headers=alice.headers, json={"status": "PAUSED", "amount": "6.25"})
    assert (paused.status_code, paused.json()["status"], paused.json()["amount"]) == (200, "PAUSED", "6.2500")
    resumed = alice.client.patch(path, headers=alice.headers, json={"status": "ACTIVE"})
    assert (resumed.json()["status"], resumed.json()["next_run_on"]) == ("ACTIVE", tomorrow)
    assert bob.client.patch(path, headers=bob.headers, json={"status": "PAUSED"}).status_code == 404
    deleted = alice.client.delete(f"/scheduled-transfers/{schedule['id']}", headers=alice.headers)
    assert deleted.status_code == 204, deleted.text
    shown = schedule_get(alice, schedule["id"])
    assert (shown["status"], shown["next_run_on"], shown["runs"]) == ("CANCELLED", None, [])
    again = alice.client.patch(path, headers=alice.headers, json={"status": "ACTIVE"})
    assert (again.status_code, again.json()["code"]) == (409, "schedule_finished")


@pytest.mark.parametrize(
    "change",
    [{"amount": "0"}, {"amount": "1e3"}, {"repeat": "yearly"}, {"start_date": "2000-01-01"}, {"to_wallet_id": "x"}],
)
def test_invalid_schedules_are_400_and_create_nothing(stack, alice, bob, change):
    body = {"from_wallet_id": alice.wallet_id, "to_wallet_id": bob.wallet_id, "amount": "5", "start_date": today(),
            "repeat": "daily", **change}  # fmt: skip
    response = alice.post("/scheduled-transfers", body)
    assert (response.status_code, response.json()["code"]) == (400, "invalid"), response.text
    assert alice.get("/scheduled-transfers").json() == []


def test_a_schedule_from_someone_elses_wallet_is_404(stack, alice, bob):
    body = {"from_wallet_id": bob.wallet_id, "to_wallet_id": alice.wallet_id, "amount": "5", "start_date": today(),
            "repeat": "daily"}  # fmt: skip
    response = alice.post("/scheduled-transfers", body)
    assert (response.status_code, response.json()["code"]) == (404, "wallet_not_found")


def test_two_schedulers_at_once_pay_each_run_once(stack, alice, bob):
    alice.fund("100")
    env = {**os.environ, **stack.config.service_env("transaction_service")}
    second = subprocess.Popen(  # beside the supervisor's own scheduler, from the same Procfile command
        [sys.executable, "manage.py", "run_scheduler"], cwd=REPO_ROOT / "transaction_service", env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        schedules = [schedule_create(alice, bob, "3") for _ in range(6)]
        runs = [first_run_final(alice, schedule["id"]) for schedule in schedules]
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert {run["status"] for run in runs} == {"SUCCESS"}
    for schedule in schedules:
        assert len(transfers_of(stack, schedule["id"])) == 1
    assert (alice.balance(), bob.balance()) == (Decimal("82"), Decimal("18"))


@pytest.mark.timeout(300)
def test_a_scheduler_killed_mid_run_then_restarted_pays_once(stack, alice, bob):
    alice.fund("40")
    scheduler = stack.supervisor.pid("transaction-scheduler")
    # Hold alice's wallet row: the run's reserve waits at the wallet, so the scheduler is caught mid-run
    # (its transaction INITIATED, the wallet call in flight) when it is killed.
    with psycopg.connect(stack.config.database_url("wallet")) as locker:
        locker.execute("SELECT 1 FROM wallet WHERE id = %s FOR UPDATE", (alice.wallet_id,))
        schedule = schedule_create(alice, bob, "15")
        wait_until(lambda: transfers_of(stack, schedule["id"]), timeout=RUN_DEADLINE, message="the run started")
        os.kill(scheduler, signal.SIGKILL)
    wait_until(lambda: stack.supervisor.pid("transaction-scheduler") != scheduler, timeout=30, message="restarted")
    run = first_run_final(alice, schedule["id"], timeout=120)
    assert run["status"] == "SUCCESS"
    [(transaction_id, status)] = transfers_of(stack, schedule["id"])
    assert (str(transaction_id), status) == (run["transaction_id"], "SUCCESS")
    assert (alice.balance(), bob.balance()) == (Decimal("25"), Decimal("15"))
    invariants.wait_quiet(stack)
    assert invariants.violations(stack) == []
