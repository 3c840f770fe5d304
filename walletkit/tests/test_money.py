"""Money: exact decimals only; anything not exactly representable or out of range is refused."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import override_settings

from walletkit.money import InvalidAmount, InvalidCurrency, amount_format, amount_parse, currency_parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0001", Decimal("0.0001")),
        ("12", Decimal("12")),
        ("12.5000", Decimal("12.5")),
        ("007.25", Decimal("7.25")),
        (12, Decimal("12")),  # a JSON integer: json never makes an int out of exponent notation
        ("1000000000", Decimal("1000000000")),
    ],
)
def test_accepts_positive_amounts_with_at_most_four_fraction_digits(text, expected):
    assert amount_parse(text) == expected


@pytest.mark.parametrize(
    "value",
    [
        "0", "0.0000", "-1", "-0.0001", 0, -5,  # zero, negative
        "NaN", "nan", "sNaN", "Infinity", "-Infinity", "inf",  # not finite
        "1.00001", "0.00001", "12.50000",  # more than 4 fraction digits
        "1000000000.0001", "1e10", "99999999999999999999",  # above the maximum
        12.5, 0.1, 1.0,  # floats lost precision before we saw them
        True, False,  # bools are ints to Python, not amounts
        "", " ", "twelve", "12,50", "1.2.3", "$12", "0x10", None, [], {},  # garbage
    ],
)  # fmt: skip
def test_refuses_anything_else(value):
    with pytest.raises(InvalidAmount):
        amount_parse(value)


@pytest.mark.parametrize(
    "text",
    [
        "1e3", "1E3", "1e-2", "10e0",  # exponent notation: Decimal reads it, the contract does not
        "+1", "+0.5",  # a sign
        "1_000", "1_0.5",  # digit-group underscores (Python literals, not amounts)
        "\uff11\uff10", "\u0661\u0660", "\u0967", "1\u0665",  # fullwidth, Arabic-Indic, Devanagari digits
        " 7.25", "7.25 ", "7.25\n", "\t1",  # surrounding whitespace
        "1.", ".5", "1.2.", "١.٥",  # a lone point, non-ASCII again
    ],
)  # fmt: skip
def test_refuses_every_text_that_is_not_plain_ascii_digits(text):
    with pytest.raises(InvalidAmount, match=r"\^\[0-9\]"):
        amount_parse(text)


def test_maximum_comes_from_settings():
    with override_settings(MAX_AMOUNT="100"):
        assert amount_parse("100") == Decimal("100")
        with pytest.raises(InvalidAmount, match="maximum of 100.0000"):
            amount_parse("100.0001")


@pytest.mark.parametrize(
    ("amount", "wire"),
    [
        (Decimal("30"), "30.0000"),
        (Decimal("12.5"), "12.5000"),
        (Decimal("0.0001"), "0.0001"),
        (Decimal("1E+3"), "1000.0000"),
        (Decimal("1000000000"), "1000000000.0000"),
        (Decimal("-4.2"), "-4.2000"),
    ],
)
def test_format_is_canonical_four_digits_without_exponent(amount, wire):
    assert amount_format(amount) == wire


def test_format_then_parse_round_trips():
    for text in ("0.0001", "12", "12.5000", "999999999.9999"):
        assert amount_parse(amount_format(amount_parse(text))) == amount_parse(text)


def test_currency_is_an_iso_code():
    assert currency_parse("usd") == "USD"
    for value in ("XXX", "US", "", None, 840, "BTC"):
        with pytest.raises(InvalidCurrency):
            currency_parse(value)
