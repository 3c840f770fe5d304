"""Every write of scheduled transfers. The scheduler (schedules.scheduler) pays runs through
transaction_initiate, the same saga path as POST /transactions.

Lock order, everywhere: the schedule row, then its runs. The scheduler's claim takes schedules with
SKIP LOCKED (two schedulers take disjoint schedules); an owner's PATCH/DELETE waits for the schedule row.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from schedules import clients
from schedules.dates import run_date, run_index_from, today_utc
from schedules.models import RunStatus, ScheduledRun, ScheduledTransfer, ScheduleStatus
from transactions.models import Transaction, TransactionType
from transactions.services import transaction_initiate
from walletkit.errors import DomainError
from walletkit.money import InvalidAmount, amount_format, amount_parse

logger = logging.getLogger(__name__)

RUN_RETRY_SECONDS = 2  # after an answer that says "not now" (429 overloaded, wallet unreachable)
CATCH_UP_MAX = 31  # runs recorded per schedule per round when the scheduler was down for days
FINISHED = (ScheduleStatus.CANCELLED, ScheduleStatus.COMPLETED)
STOPPED = (ScheduleStatus.PAUSED, ScheduleStatus.CANCELLED)  # their runs not yet started are never paid


def _run_lease() -> timedelta:
    """Longer than transaction_initiate's worst case (every reserve try timing out). The lease only saves
    work: a run paid twice at once (a lease outlived by a frozen scheduler) still makes one transaction,
    because both tries carry the same idempotency key."""
    return timedelta(seconds=clients.RESERVE_ATTEMPTS * settings.SERVICE_HTTP_TIMEOUT + 5)


def _invalid(field: str, message: str) -> DomainError:
    return DomainError("Some fields are invalid.", code="invalid", errors={field: [message]})


def _amount(value: object) -> Decimal:
    try:
        return amount_parse(value)
    except InvalidAmount as exc:
        raise _invalid("amount", str(exc)) from None


def _advance(schedule: ScheduledTransfer, *, index: int | None) -> None:
    """Point the schedule at its run number ``index``; COMPLETED when there is none before the end date."""
    run_on = None if index is None else run_date(start_date=schedule.start_date, repeat=schedule.repeat, index=index)
    if run_on is not None and schedule.end_date is not None and run_on > schedule.end_date:
        run_on = None
    schedule.next_index = index or 0
    schedule.next_run_on = run_on
    if run_on is None and schedule.status not in FINISHED:
        schedule.status = ScheduleStatus.COMPLETED


def schedule_create(
    *,
    owner_id: int,
    user_token: str,
    from_wallet_id: UUID,
    to_wallet_id: UUID,
    amount: object,
    start_date: date,
    repeat: str,
    end_date: date | None = None,
    note: str = "",
) -> ScheduledTransfer:
    """The payer's wallet must be the caller's (asked of wallet_service with the caller's token); the payee's
    wallet is checked at every run by the reserve, like any transfer. Dates are UTC; not in the past."""
    parsed = _amount(amount)
    if from_wallet_id == to_wallet_id:
        raise DomainError("A transfer needs two different wallets.", code="same_wallet")
    if start_date < today_utc():
        raise _invalid("start_date", "Must be today (UTC) or later.")
    if end_date is not None and end_date < start_date:
        raise _invalid("end_date", "Must be on or after start_date.")
    wallet = clients.own_wallet_get(wallet_id=from_wallet_id, user_token=user_token)
    if wallet is None:
        raise DomainError("Wallet not found.", code="wallet_not_found")
    schedule = ScheduledTransfer(
        owner_id=owner_id, from_wallet_id=from_wallet_id, to_wallet_id=to_wallet_id, amount=parsed,
        currency=wallet["currency"], note=note, repeat=repeat, start_date=start_date, end_date=end_date,
    )  # fmt: skip
    _advance(schedule, index=0)
    schedule.save()
    return schedule


def _locked(*, schedule_id: UUID, owner_id: int) -> ScheduledTransfer:
    schedule = ScheduledTransfer.objects.select_for_update().filter(id=schedule_id, owner_id=owner_id).first()
    if schedule is None:
        raise DomainError("Scheduled transfer not found.", code="not_found")
    return schedule


@transaction.atomic
def schedule_update(*, schedule_id: UUID, owner_id: int, changes: dict[str, Any]) -> ScheduledTransfer:
    """``changes``: any of amount, end_date (null: no end), status ACTIVE|PAUSED. A new amount applies to runs
    not yet recorded. Resuming skips the dates missed while paused (it never pays them late)."""
    schedule = _locked(schedule_id=schedule_id, owner_id=owner_id)
    if schedule.status in FINISHED:
        raise DomainError(
            f"This scheduled transfer is {schedule.status.lower()}.", code="schedule_finished",
        )  # fmt: skip
    if "amount" in changes:
        schedule.amount = _amount(changes["amount"])
    if "end_date" in changes:
        end_date = changes["end_date"]
        if end_date is not None and end_date < schedule.start_date:
            raise _invalid("end_date", "Must be on or after start_date.")
        schedule.end_date = end_date
    wanted = changes.get("status", schedule.status)
    resuming = schedule.status == ScheduleStatus.PAUSED and wanted == ScheduleStatus.ACTIVE
    schedule.status = wanted
    index = schedule.next_index
    if resuming:
        earliest = max(today_utc(), schedule.next_run_on or today_utc())
        index = run_index_from(start_date=schedule.start_date, repeat=schedule.repeat, earliest=earliest)
    _advance(schedule, index=index)
    schedule.save()
    return schedule


@transaction.atomic
def schedule_cancel(*, schedule_id: UUID, owner_id: int) -> ScheduledTransfer:
    """No run is recorded after this. A run already being paid (its lease held by a scheduler) finishes;
    one whose scheduler died before paying is SKIPPED at its lease's end (scheduled_runs_claim)."""
    schedule = _locked(schedule_id=schedule_id, owner_id=owner_id)
    if schedule.status != ScheduleStatus.CANCELLED:
        schedule.status = ScheduleStatus.CANCELLED
        schedule.next_run_on = None
        schedule.save(update_fields=["status", "next_run_on", "updated_at"])
    return schedule


# --- the scheduler ----------------------------------------------------------------------------


@transaction.atomic
def scheduled_runs_claim(*, limit: int = 50) -> list[ScheduledRun]:
    """Record every due run (one row per schedule and date: the unique index) and lease the runs to pay now.

    SKIP LOCKED on the schedule rows lets two schedulers share the work without waiting or overlapping;
    a leased run is not taken again until its lease ends (the holder crashed), and then it is paid with
    the same idempotency key, which replays the transaction the first try made, if it made one.
    """
    today, now = today_utc(), timezone.now()
    pending_due = ScheduledRun.objects.filter(schedule=OuterRef("pk"), status=RunStatus.PENDING,
                                              next_attempt_at__lte=now)  # fmt: skip
    schedules = list(
        ScheduledTransfer.objects.select_for_update(skip_locked=True)
        .filter(Q(status=ScheduleStatus.ACTIVE, next_run_on__lte=today) | Q(Exists(pending_due)))
        .order_by("next_run_on")[:limit]
    )
    claimed: list[ScheduledRun] = []
    for schedule in schedules:
        _due_runs_record(schedule, today=today, now=now)
        for run in ScheduledRun.objects.filter(schedule=schedule, status=RunStatus.PENDING, next_attempt_at__lte=now):
            run.schedule = schedule
            if schedule.status not in STOPPED:  # a COMPLETED schedule still pays its last recorded run
                run.attempts += 1
                run.next_attempt_at = now + _run_lease()
                run.save(update_fields=["attempts", "next_attempt_at"])
                claimed.append(run)
            else:
                _unstarted_run_settle(run)
    return claimed


def _due_runs_record(schedule: ScheduledTransfer, *, today: date, now: datetime) -> None:
    recorded = 0
    while schedule.status == ScheduleStatus.ACTIVE and schedule.next_run_on and schedule.next_run_on <= today:
        if recorded == CATCH_UP_MAX:
            break
        ScheduledRun.objects.bulk_create(
            [ScheduledRun(schedule=schedule, run_on=schedule.next_run_on, amount=schedule.amount, next_attempt_at=now)],
            ignore_conflicts=True,  # the date was recorded before (a PATCH moved the index back): one run a date
        )
        recorded += 1
        _advance(schedule, index=schedule.next_index + 1)
    if recorded:
        schedule.save(update_fields=["next_index", "next_run_on", "status", "updated_at"])


def _unstarted_run_settle(run: ScheduledRun) -> None:
    """A run of a paused or cancelled schedule whose scheduler died: if its try made a transaction, that
    transaction is the run; otherwise it is never paid."""
    tx = _transaction_for(run)
    if tx is not None:
        run.transaction, run.status = tx, RunStatus.ATTACHED
    else:
        run.status, run.failure_reason = RunStatus.SKIPPED, run.schedule.status.lower()
    run.save(update_fields=["transaction", "status", "failure_reason"])


def _transaction_for(run: ScheduledRun) -> Transaction | None:
    return Transaction.objects.filter(owner_id=run.schedule.owner_id, idempotency_key=run.idempotency_key).first()


def scheduled_run_pay(*, run: ScheduledRun) -> ScheduledRun:
    """One transfer through the saga's front door, keyed by schedule id + run date (a replay after a crash
    or a second scheduler returns the first transaction), then recorded on the run. No lock is held while
    the wallet is asked."""
    schedule = run.schedule
    status_code, body = transaction_initiate(
        owner_id=schedule.owner_id, type=TransactionType.TRANSFER, from_wallet_id=schedule.from_wallet_id,
        to_wallet_id=schedule.to_wallet_id, amount=amount_format(run.amount), idempotency_key=run.idempotency_key,
    )  # fmt: skip
    return scheduled_run_record(run_id=run.id, status_code=status_code, code=body.get("code"))


# The key is the owner's; a transaction the owner made with it by hand is not this run's.
_NOT_THIS_RUNS = "idempotency_conflict"


@transaction.atomic
def scheduled_run_record(*, run_id: int, status_code: int, code: str | None) -> ScheduledRun:
    """Attach the run's transaction (whatever its status: a refused run is its FAILED transaction, with the
    reason, and the owner sees it pushed like any transaction). With none: retry soon if the answer was
    "not now", else the run FAILED for good. The schedule goes on either way."""
    run = ScheduledRun.objects.select_for_update().select_related("schedule").get(id=run_id)
    tx = _transaction_for(run) if code != _NOT_THIS_RUNS else None
    if tx is not None:
        run.transaction, run.status, run.failure_reason = tx, RunStatus.ATTACHED, ""
    elif status_code in (429, 503):  # overloaded, or the wallet unreachable (its key was released)
        run.next_attempt_at = timezone.now() + timedelta(seconds=RUN_RETRY_SECONDS)
    elif run.status == RunStatus.PENDING:
        run.status, run.failure_reason = RunStatus.FAILED, code or f"http_{status_code}"
        logger.warning("scheduled run refused", extra={"schedule_id": str(run.schedule_id), "code": code})
    run.save(update_fields=["transaction", "status", "failure_reason", "next_attempt_at"])
    return run
