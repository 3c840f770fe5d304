"""Reads. A schedule is seen only by its owner."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db.models import Prefetch, QuerySet

from schedules.models import ScheduledRun, ScheduledTransfer
from walletkit.money import amount_format

LIST_MAX = 100


def _with_runs(queryset: QuerySet[ScheduledTransfer]) -> QuerySet[ScheduledTransfer]:
    runs = ScheduledRun.objects.select_related("transaction").order_by("run_on")
    return queryset.prefetch_related(Prefetch("runs", queryset=runs))


def schedule_get_for_owner(*, schedule_id: UUID, owner_id: int) -> ScheduledTransfer | None:
    return _with_runs(ScheduledTransfer.objects.filter(id=schedule_id, owner_id=owner_id)).first()


def schedule_list_for_owner(*, owner_id: int) -> list[ScheduledTransfer]:
    """Newest first, at most LIST_MAX (a person has a handful of standing orders, not pages of them)."""
    return list(_with_runs(ScheduledTransfer.objects.filter(owner_id=owner_id).order_by("-created_at"))[:LIST_MAX])


def run_shape(run: ScheduledRun) -> dict[str, Any]:
    """A run with a transaction has that transaction's status and reason (a refused run is FAILED with
    insufficient_funds, limit_exceeded, …); without one, PENDING, FAILED or SKIPPED as recorded."""
    tx = run.transaction
    return {
        "run_on": run.run_on.isoformat(),
        "transaction_id": str(tx.id) if tx else None,
        "status": tx.status if tx else run.status,
        "failure_reason": (tx.failure_reason if tx else run.failure_reason) or None,
        "amount": amount_format(run.amount),
    }


def schedule_shape(schedule: ScheduledTransfer) -> dict[str, Any]:
    return {
        "id": str(schedule.id),
        "from_wallet_id": str(schedule.from_wallet_id),
        "to_wallet_id": str(schedule.to_wallet_id),
        "amount": amount_format(schedule.amount),
        "currency": schedule.currency,
        "note": schedule.note,
        "repeat": schedule.repeat,
        "start_date": schedule.start_date.isoformat(),
        "end_date": schedule.end_date.isoformat() if schedule.end_date else None,
        "status": schedule.status,
        "next_run_on": schedule.next_run_on.isoformat() if schedule.next_run_on else None,
        "created_at": schedule.created_at.isoformat().replace("+00:00", "Z"),
        "runs": [run_shape(run) for run in schedule.runs.all()],
    }
