from datetime import date

import pytest

from schedules.dates import run_date, run_index_from


def dates(start: date, repeat: str, count: int) -> list[date | None]:
    return [run_date(start_date=start, repeat=repeat, index=n) for n in range(count)]


def test_a_one_off_runs_on_its_start_date_only():
    assert dates(date(2026, 3, 5), "none", 2) == [date(2026, 3, 5), None]


def test_daily_and_weekly_runs_step_from_the_start_date():
    assert dates(date(2026, 2, 27), "daily", 3) == [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1)]
    assert dates(date(2026, 12, 25), "weekly", 2) == [date(2026, 12, 25), date(2027, 1, 1)]


def test_monthly_on_the_31st_runs_on_the_last_day_of_shorter_months_and_returns_to_the_31st():
    assert dates(date(2026, 1, 31), "monthly", 5) == [
        date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31),
    ]  # fmt: skip


def test_monthly_on_the_29th_in_a_leap_february_and_across_the_year_end():
    assert dates(date(2027, 11, 29), "monthly", 4) == [
        date(2027, 11, 29), date(2027, 12, 29), date(2028, 1, 29), date(2028, 2, 29),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "repeat", "earliest", "index"),
    [
        (date(2026, 1, 31), "monthly", date(2026, 4, 1), 3),  # 30 April
        (date(2026, 1, 31), "monthly", date(2026, 4, 30), 3),
        (date(2026, 1, 31), "monthly", date(2026, 5, 1), 4),
        (date(2026, 1, 1), "weekly", date(2026, 1, 9), 2),
        (date(2026, 1, 1), "daily", date(2026, 1, 9), 8),
        (date(2026, 1, 1), "none", date(2026, 1, 2), None),
        (date(2026, 1, 5), "daily", date(2026, 1, 1), 0),
    ],
)
def test_resuming_finds_the_first_run_on_or_after_a_date(start, repeat, earliest, index):
    assert run_index_from(start_date=start, repeat=repeat, earliest=earliest) == index
