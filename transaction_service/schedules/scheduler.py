"""The scheduler's round: record and lease the due runs, then pay each through the saga (outside any
database transaction, like the sweeper). Safe with several schedulers and across crashes: see
scheduled_runs_claim and scheduled_run_pay."""

from __future__ import annotations

import logging

from paymentrequests.services import payment_requests_expire
from schedules.services import scheduled_run_pay, scheduled_runs_claim

logger = logging.getLogger(__name__)


def scheduler_round(*, limit: int = 50) -> int:
    """Returns how many runs it tried to pay. Ends the payment requests past their expires_at too (the one
    other thing in this service that happens at a time rather than on a request)."""
    payment_requests_expire()
    runs = scheduled_runs_claim(limit=limit)
    for run in runs:
        try:
            scheduled_run_pay(run=run)
        except Exception:
            # The run keeps its lease; when it ends, the next round pays it again with the same key.
            logger.exception("scheduled run not paid", extra={"schedule_id": str(run.schedule_id)})
    return len(runs)
