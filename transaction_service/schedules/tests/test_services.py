"""The scheduler against the real database and a fake wallet over real HTTP."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from schedules.dates import today_utc
from schedules.models import ScheduledRun, ScheduledTransfer
from schedules.scheduler import scheduler_round
from schedules.services import schedule_cancel, schedule_update, scheduled_run_pay, scheduled_runs_claim
from schedules.tests.factories import ScheduledTransferFactory, days_ago
from transactions.models import Transaction
from transactions.tests.fakes import hold_created

pytestmark = pytest.mark.django_db


def transactions_of(schedule: ScheduledTransfer) -> list[Transaction]:
    return list(Transaction.objects.filter(idempotency_key__startswith=f"schedule:{schedule.id}:"))


def test_a_run_due_today_is_paid_once_however_many_rounds_see_it(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    schedule = ScheduledTransferFactory(repeat="none")
    assert scheduler_round() == 1
    assert scheduler_round() == 0
    [tx] = transactions_of(schedule)
    assert (tx.type, tx.status, tx.amount) == ("TRANSFER", "RESERVED", Decimal("5"))
    [run] = ScheduledRun.objects.filter(schedule=schedule)
    assert (run.run_on, run.transaction_id) == (today_utc(), tx.id)
    schedule.refresh_from_db()
    assert (schedule.status, schedule.next_run_on) == ("COMPLETED", None)
    assert len(fake_wallet.calls_to("POST", "/holds")) == 1


def test_a_daily_schedule_catches_up_the_days_it_missed_each_once(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    schedule = ScheduledTransferFactory(start_date=days_ago(2), next_run_on=days_ago(2))
    scheduler_round()
    scheduler_round()
    assert sorted(run.run_on for run in schedule.runs.all()) == [days_ago(2), days_ago(1), today_utc()]
    assert len(transactions_of(schedule)) == 3
    schedule.refresh_from_db()
    assert schedule.next_run_on == today_utc() + timedelta(days=1)


def test_a_run_refused_for_funds_is_failed_with_the_reason_and_the_schedule_goes_on(fake_wallet):
    fake_wallet.route("POST", "/holds", (422, {"code": "insufficient_funds", "detail": "No.", "available": "1"}))
    schedule = ScheduledTransferFactory()
    scheduler_round()
    [run] = schedule.runs.select_related("transaction")
    assert (run.transaction.status, run.transaction.failure_reason) == ("FAILED", "insufficient_funds")
    schedule.refresh_from_db()
    assert (schedule.status, schedule.next_run_on) == ("ACTIVE", today_utc() + timedelta(days=1))


def test_a_run_refused_for_a_limit_is_failed_with_the_reason(fake_wallet):
    fake_wallet.route("POST", "/holds", (422, {"code": "limit_exceeded", "detail": "No.", "remaining": "0"}))
    schedule = ScheduledTransferFactory()
    scheduler_round()
    [run] = schedule.runs.select_related("transaction")
    assert run.transaction.failure_reason == "limit_exceeded"


def test_a_run_whose_wallet_is_unreachable_is_retried_not_failed(settings, fake_wallet, closed_port_url):
    wallet_url = settings.SERVICE_URLS["wallet"]
    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": closed_port_url}
    schedule = ScheduledTransferFactory()
    scheduler_round()
    [run] = schedule.runs.all()
    assert (run.status, run.transaction_id) == ("PENDING", None)
    settings.SERVICE_URLS = {**settings.SERVICE_URLS, "wallet": wallet_url}
    fake_wallet.route("POST", "/holds", hold_created)
    ScheduledRun.objects.filter(id=run.id).update(next_attempt_at=run.created_at)  # its retry is due
    scheduler_round()
    run.refresh_from_db()
    assert run.status == "ATTACHED"
    assert transactions_of(schedule)[0].status == "RESERVED"


def test_a_run_retried_after_its_scheduler_died_replays_its_transaction(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    schedule = ScheduledTransferFactory()
    [run] = scheduled_runs_claim()
    scheduled_run_pay(run=run)
    ScheduledRun.objects.filter(id=run.id).update(status="PENDING", transaction=None)  # the record was lost
    ScheduledRun.objects.filter(id=run.id).update(next_attempt_at=run.created_at)  # and its lease ended
    scheduler_round()
    assert len(transactions_of(schedule)) == 1
    assert ScheduledRun.objects.get(id=run.id).status == "ATTACHED"


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_at_once_pay_each_run_once(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    schedules = [ScheduledTransferFactory(start_date=days_ago(1), next_run_on=days_ago(1)) for _ in range(8)]
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def scheduler() -> None:
        try:
            start.wait()
            for _ in range(5):
                scheduler_round(limit=3)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for schedule in schedules:
        assert sorted(tx.idempotency_key[-10:] for tx in transactions_of(schedule)) == [
            days_ago(1).isoformat(), today_utc().isoformat(),
        ]  # fmt: skip
    holds = [call.body["transaction_id"] for call in fake_wallet.calls_to("POST", "/holds")]
    assert len(holds) == len(set(holds)) == 16


def test_a_cancelled_schedule_records_no_further_runs(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    schedule = ScheduledTransferFactory(start_date=today_utc() + timedelta(days=1),
                                        next_run_on=today_utc() + timedelta(days=1))  # fmt: skip
    schedule_cancel(schedule_id=schedule.id, owner_id=schedule.owner_id)
    ScheduledTransfer.objects.filter(id=schedule.id).update(next_run_on=today_utc())  # even if it were due
    assert scheduler_round() == 0
    assert not schedule.runs.exists()


def test_a_run_of_a_cancelled_schedule_whose_scheduler_died_before_paying_is_skipped(fake_wallet):
    schedule = ScheduledTransferFactory()
    [run] = scheduled_runs_claim()  # then the scheduler died: no transaction was made
    schedule_cancel(schedule_id=schedule.id, owner_id=schedule.owner_id)
    ScheduledRun.objects.filter(id=run.id).update(next_attempt_at=run.created_at)
    scheduler_round()
    run.refresh_from_db()
    assert (run.status, run.failure_reason) == ("SKIPPED", "cancelled")
    assert fake_wallet.calls == []


def test_paused_then_resumed_skips_the_missed_dates_and_pays_the_new_amount(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    schedule = ScheduledTransferFactory(start_date=days_ago(3), next_run_on=days_ago(3))
    schedule_update(schedule_id=schedule.id, owner_id=1, changes={"status": "PAUSED"})
    assert scheduler_round() == 0
    schedule_update(schedule_id=schedule.id, owner_id=1, changes={"status": "ACTIVE", "amount": "7.5"})
    scheduler_round()
    [run] = schedule.runs.all()
    assert (run.run_on, run.amount) == (today_utc(), Decimal("7.5"))


def test_an_end_date_stops_the_schedule(fake_wallet):
    fake_wallet.route("POST", "/holds", hold_created)
    schedule = ScheduledTransferFactory(start_date=days_ago(1), next_run_on=days_ago(1), end_date=today_utc())
    scheduler_round()
    schedule.refresh_from_db()
    assert schedule.runs.count() == 2
    assert (schedule.status, schedule.next_run_on) == ("COMPLETED", None)
