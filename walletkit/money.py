"""Money: Decimal with 4 fraction digits, one ISO-4217 currency, strings on the wire.

Anything that is not exactly representable is refused, never rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings

FRACTION_DIGITS = 4
MAX_DIGITS = 19  # NUMERIC(19, 4)
DEFAULT_MAX_AMOUNT = Decimal("1000000000")

# ISO 4217 codes for currencies in circulation (no funds, metals or test codes).
CURRENCIES = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN
    BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP
    GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS
    KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF
    SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
    TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL""".split()
)


# The whole wire grammar of an amount (API.md): ASCII digits, optionally a point and 1-4 digits. Decimal()
# alone would also read "1e3", "+1", "1_000", " 7 " and any Unicode digit ("１０", "١٠").
AMOUNT_GRAMMAR = rf"^[0-9]+(\.[0-9]{{1,{FRACTION_DIGITS}}})?$"
AMOUNT_TEXT = re.compile(AMOUNT_GRAMMAR.strip("^$"), re.ASCII)  # used with fullmatch: "$" would let "7\n" in
_TOO_PRECISE = re.compile(rf"[0-9]+\.[0-9]{{{FRACTION_DIGITS + 1},}}", re.ASCII)


class InvalidAmount(ValueError):
    """The text is not a positive amount with at most 4 fraction digits within the maximum."""


class InvalidCurrency(ValueError):
    pass


def max_amount() -> Decimal:
    return Decimal(str(getattr(settings, "MAX_AMOUNT", DEFAULT_MAX_AMOUNT)))


def amount_parse(value: object) -> Decimal:
    """Parse a client-supplied amount: a string matching AMOUNT_GRAMMAR, or an int.

    A JSON integer is accepted: ``json`` builds an int only from plain digits (``1e3`` becomes a
    float). Every float is refused, ``10.5`` included: once parsed, its text is gone, so an exponent
    or a rounding (``0.1``) cannot be told apart from a plain amount.
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidAmount('Amount must be a decimal string, e.g. "12.50" (a JSON fraction has lost its text).')
    text = str(value)
    if isinstance(value, str) and AMOUNT_TEXT.fullmatch(text) is None:
        if _TOO_PRECISE.fullmatch(text):
            raise InvalidAmount(f"Amount has more than {FRACTION_DIGITS} fraction digits.")
        raise InvalidAmount(f'Amount must be a plain decimal string matching {AMOUNT_GRAMMAR}, e.g. "12.50".')
    amount = Decimal(text)
    if amount <= 0:
        raise InvalidAmount("Amount must be greater than zero.")
    if amount > max_amount():
        raise InvalidAmount(f"Amount exceeds the maximum of {amount_format(max_amount())}.")
    return amount


def amount_format(amount: Decimal) -> str:
    """Canonical wire form: always 4 fraction digits ("30.0000"), never exponent notation."""
    return f"{amount.quantize(Decimal(1).scaleb(-FRACTION_DIGITS)):f}"


def currency_parse(value: object) -> str:
    if not isinstance(value, str) or value.upper() not in CURRENCIES:
        raise InvalidCurrency("Currency must be an ISO-4217 code such as USD or EUR.")
    return value.upper()
