"""Statements and balances over time.

The figures are the ledger's postings (the source of truth), read as one snapshot and streamed:
the ledger sends the period's summary first, then the postings oldest first, then an end mark. The
running ``balance_after`` starts at the opening balance and must land on the closing balance — a
stream that does not (or ends early) is an error, never a wrong statement.
"""

from __future__ import annotations

import calendar
import csv
import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, islice

from django.contrib.auth import get_user_model
from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from rest_framework import serializers, status

from api.client import DownstreamError, service_call
from api.people import counterparties_resolve
from walletkit.errors import ApiError
from walletkit.http import ServiceUnavailable, service_stream
from walletkit.money import amount_format

log = logging.getLogger(__name__)

# A year (a leap one) at most: bounds the rows one request makes the ledger read (threat model T42).
STATEMENT_DAYS_MAX = 366
LINES_PER_BATCH = 500  # counterparties are resolved for a batch of lines at a time
CSV_HEADER = [
    "occurred_at", "transaction_id", "type", "direction", "amount", "currency", "counterparty_username",
    "counterparty_wallet_id", "balance_after",
]  # fmt: skip


@dataclass(frozen=True)
class Period:
    """Whole UTC days, both inclusive: [first 00:00, the day after last 00:00)."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time.min, tzinfo=UTC)

    @property
    def last_instant(self) -> datetime:
        """The end of ``last`` as an instant ``balance?at=`` takes (PostgreSQL keeps microseconds)."""
        return self.end - timedelta(microseconds=1)


def period_this_month(today: date) -> Period:
    return Period(today.replace(day=1), today.replace(day=calendar.monthrange(today.year, today.month)[1]))


def period_last_month(today: date) -> Period:
    return period_this_month(today.replace(day=1) - timedelta(days=1))


def period_get(*, first: date | None, last: date | None, today: date) -> Period:
    """The asked period, this month by default; a period longer than the bound or backwards is a 400."""
    default = period_this_month(today)
    period = Period(first or default.first, last or default.last)
    if period.last >= date.max:  # its end (the next midnight) is past the calendar
        raise serializers.ValidationError({"to": ["Too far in the future."]})
    if period.last < period.first:
        raise serializers.ValidationError({"to": ["Must not be before `from`."]})
    if (period.last - period.first).days + 1 > STATEMENT_DAYS_MAX:
        raise ApiError(f"A statement covers at most {STATEMENT_DAYS_MAX} days.", code="period_too_long")
    return period


@dataclass
class Statement:
    wallet: dict  # the wallet service's shape (id, owner_id, name, currency, ...)
    period: Period
    opening_balance: Decimal
    total_in: Decimal
    total_out: Decimal
    closing_balance: Decimal
    lines: Iterator[dict]  # read once, as the ledger sends them

    def header(self) -> dict:
        return {
            "wallet_id": self.wallet["id"], "currency": self.wallet["currency"],
            "from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
            "opening_balance": amount_format(self.opening_balance),
            "closing_balance": amount_format(self.closing_balance),
            "total_in": amount_format(self.total_in), "total_out": amount_format(self.total_out),
        }  # fmt: skip


class StatementBroken(Exception):
    """The ledger's stream ended early or did not add up: the answer is abandoned, not sent wrong."""


@contextmanager
def statement_open(*, wallet: dict, period: Period, user_id: int) -> Iterator[Statement]:
    """The wallet's statement, its lines streamed from the ledger while the context is open.

    The caller has already checked the wallet is the user's (wallet_service answered it)."""
    params = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    path = f"/accounts/{wallet['id']}/statement"
    try:
        with service_stream("GET", "ledger", path, params=params, on_behalf_of=user_id) as response:
            if response.status_code != status.HTTP_200_OK:
                response.read()
                log.error("ledger refused a statement", extra={"status": response.status_code, "body": response.text})
                raise _ledger_unavailable()
            rows = (json.loads(row) for row in response.iter_lines() if row)
            summary = next(rows)
            opening = Decimal(summary["opening_balance"])
            closing = Decimal(summary["closing_balance"])
            yield Statement(
                wallet=wallet, period=period, opening_balance=opening, closing_balance=closing,
                total_in=Decimal(summary["total_in"]), total_out=Decimal(summary["total_out"]),
                lines=_lines(rows, opening=opening, closing=closing),
            )  # fmt: skip
    except ServiceUnavailable:
        raise _ledger_unavailable() from None


def _ledger_unavailable() -> ApiError:
    return ApiError("The ledger is unavailable; try again shortly.", code="service_unavailable", status_code=503)


def _lines(rows: Iterator[dict], *, opening: Decimal, closing: Decimal) -> Iterator[dict]:
    """Public lines with the running balance; counterparties resolved a batch at a time."""
    balance, count = opening, 0
    while batch := list(islice(rows, LINES_PER_BATCH)):
        end = batch.pop() if "end" in batch[-1] else None
        people = counterparties_resolve(wallet_ids=[row["counterparty_wallet_id"] for row in batch])
        for row in batch:
            amount = Decimal(row["amount"])
            balance += amount
            count += 1
            yield {
                "occurred_at": row["occurred_at"], "transaction_id": row["transaction_id"], "type": row["type"],
                "direction": "CREDIT" if amount > 0 else "DEBIT", "amount": amount_format(abs(amount)),
                "counterparty": people.get(row["counterparty_wallet_id"]) if row["counterparty_wallet_id"] else None,
                "balance_after": amount_format(balance),
            }  # fmt: skip
        if end is not None:
            if end["count"] != count or balance != closing:
                raise StatementBroken(f"lines {count}/{end['count']}, running {balance} != closing {closing}")
            return
    raise StatementBroken("the ledger's statement stream ended without its end mark")


def statement_json_chunks(statement: Statement) -> Iterator[bytes]:
    """The statement as one JSON document, written as the lines arrive."""
    head = json.dumps(statement.header())
    yield (head[:-1] + ', "lines": [').encode()
    for index, line in enumerate(statement.lines):
        yield ((", " if index else "") + json.dumps(line)).encode()
    yield b"]}"


def statement_csv_chunks(statement: Statement) -> Iterator[bytes]:
    """A header row then one row per movement; UTF-8 with a BOM so spreadsheets read names right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    yield ("\ufeff" + buffer.getvalue()).encode()
    currency = statement.wallet["currency"]
    while batch := list(islice(statement.lines, LINES_PER_BATCH)):
        buffer.seek(0)
        buffer.truncate()
        for line in batch:
            counterparty = line["counterparty"] or {}
            writer.writerow([
                line["occurred_at"], line["transaction_id"], line["type"], line["direction"], line["amount"],
                currency, counterparty.get("username") or "", counterparty.get("wallet_id") or "",
                line["balance_after"],
            ])  # fmt: skip
        yield buffer.getvalue().encode()


def statement_filename(statement: Statement, extension: str) -> str:
    period = statement.period
    return f"statement-{statement.wallet['id']}-{period.first.isoformat()}-{period.last.isoformat()}.{extension}"


def _rendered(*, wallet: dict, period: Period, user_id: int, render) -> Iterator[bytes]:
    with statement_open(wallet=wallet, period=period, user_id=user_id) as statement:
        yield from render(statement)


def statement_response(*, wallet: dict, period: Period, user_id: int, kind: str) -> HttpResponseBase:
    """JSON and CSV stream line by line; the PDF is built whole (a period is at most a year)."""
    if kind == "pdf":
        from api.statement_pdf import statement_pdf

        owner = get_user_model().objects.filter(id=user_id).values_list("username", flat=True).first() or ""
        with statement_open(wallet=wallet, period=period, user_id=user_id) as statement:
            body = statement_pdf(statement, owner=owner)
            filename = statement_filename(statement, "pdf")
        response = HttpResponse(body, content_type="application/pdf")
    else:
        render = statement_csv_chunks if kind == "csv" else statement_json_chunks
        chunks = _rendered(wallet=wallet, period=period, user_id=user_id, render=render)
        # The first chunk opens the ledger's stream: a refusal there is still a proper error answer.
        first = next(chunks)
        content_type = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
        response = StreamingHttpResponse(chain([first], chunks), content_type=content_type)
        filename = f"statement-{wallet['id']}-{period.first.isoformat()}-{period.last.isoformat()}.{kind}"
    if kind != "json":
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def balance_at(*, wallet: dict, at: datetime, user_id: int) -> Decimal:
    """The ledger's sum of the wallet's postings up to and including ``at``."""
    try:
        _, body = service_call(
            "GET", "ledger", f"/accounts/{wallet['id']}/balance", user_token=None, on_behalf_of=user_id,
            params={"as_of": at.isoformat()},
        )  # fmt: skip
    except DownstreamError as error:
        if error.body.get("code") == "account_not_found":  # no movement has reached the ledger yet
            return Decimal(0)
        log.error("ledger refused a balance", extra={"status": error.status_code, "body": error.body})
        raise _ledger_unavailable() from None
    return Decimal(body["balance"])
