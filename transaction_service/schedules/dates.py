"""When a schedule's runs fall. Every date is a UTC calendar date (API.md: "UTC dates").

The n-th run is computed from the start date and n, never from the previous run: a monthly schedule
starting on the 31st runs on the 30th in April and on the 31st again in May (no drift to the 30th).
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

from schedules.models import Repeat


def today_utc() -> date:
    return datetime.now(UTC).date()


def run_date(*, start_date: date, repeat: str, index: int) -> date | None:
    """The ``index``-th run (0 is the start date), or None if the schedule has no such run.

    Monthly: the start date's day of the month, or the month's last day when the month is shorter
    (the 31st → 30 April, 28 or 29 February).
    """
    if index < 0:
        return None
    if repeat == Repeat.NONE:
        return start_date if index == 0 else None
    if repeat == Repeat.DAILY:
        return start_date + timedelta(days=index)
    if repeat == Repeat.WEEKLY:
        return start_date + timedelta(weeks=index)
    months = start_date.month - 1 + index
    year, month = start_date.year + months // 12, months % 12 + 1
    return date(year, month, min(start_date.day, calendar.monthrange(year, month)[1]))


def run_index_from(*, start_date: date, repeat: str, earliest: date) -> int | None:
    """The index of the first run on or after ``earliest`` (resuming after a pause skips what was missed)."""
    if earliest <= start_date:
        return 0
    if repeat == Repeat.NONE:
        return None
    if repeat == Repeat.DAILY:
        return (earliest - start_date).days
    if repeat == Repeat.WEEKLY:
        return -(-(earliest - start_date).days // 7)
    index = (earliest.year - start_date.year) * 12 + earliest.month - start_date.month
    while run_date(start_date=start_date, repeat=repeat, index=index) < earliest:
        index += 1
    return index
