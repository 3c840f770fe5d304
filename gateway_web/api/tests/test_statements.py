"""The gateway's half of a statement: the period rules and the checks on the ledger's stream."""

from datetime import date

import pytest
from rest_framework.exceptions import ValidationError

from api.statements import StatementBroken, _lines, period_get, period_last_month
from walletkit.errors import ApiError

TODAY = date(2028, 2, 10)


def test_the_default_period_is_this_month_and_last_month_crosses_the_year():
    assert period_get(first=None, last=None, today=TODAY) == period_get(
        first=date(2028, 2, 1), last=date(2028, 2, 29), today=TODAY
    )
    last = period_last_month(date(2028, 1, 5))
    assert (last.first, last.last) == (date(2027, 12, 1), date(2027, 12, 31))
    assert period_get(first=date(2028, 1, 1), last=date(2028, 12, 31), today=TODAY).last_instant.isoformat() == (
        "2028-12-31T23:59:59.999999+00:00"
    )


def test_a_period_past_366_days_or_backwards_is_refused():
    with pytest.raises(ApiError) as too_long:
        period_get(first=date(2027, 1, 1), last=date(2028, 1, 2), today=TODAY)
    assert too_long.value.get_codes() == "period_too_long"
    with pytest.raises(ValidationError):
        period_get(first=date(2028, 2, 2), last=date(2028, 2, 1), today=TODAY)


def line(amount: str) -> dict:
    return {"occurred_at": "2028-02-01T00:00:00+00:00", "transaction_id": "t", "type": "DEPOSIT", "amount": amount,
            "counterparty_wallet_id": None}  # fmt: skip


@pytest.mark.django_db
def test_a_stream_without_its_end_or_that_misses_the_closing_balance_is_refused():
    from decimal import Decimal

    whole = [line("5.0000"), line("-2.0000"), {"end": True, "count": 2}]
    assert [row["balance_after"] for row in _lines(iter(whole), opening=Decimal(1), closing=Decimal(4))] == [
        "6.0000", "4.0000",
    ]  # fmt: skip
    with pytest.raises(StatementBroken):
        list(_lines(iter(whole[:-1]), opening=Decimal(1), closing=Decimal(4)))  # cut short
    with pytest.raises(StatementBroken):
        list(_lines(iter(whole), opening=Decimal(1), closing=Decimal(5)))  # does not add up
