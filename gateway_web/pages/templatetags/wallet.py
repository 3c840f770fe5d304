"""Template filters for money and times as people read them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django import template
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def money(value) -> str:
    """``"30.0000"`` → ``"30.00"``; extra digits are kept when they matter (``"0.0125"``)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    shown = amount.quantize(Decimal("0.01"))
    if shown != amount:
        shown = amount.normalize()
    return f"{shown:,f}"


@register.filter
def when(value) -> datetime | None:
    """An ISO-8601 string from a service as a datetime, for Django's ``date`` filter."""
    if isinstance(value, datetime):
        return value
    return parse_datetime(value) if isinstance(value, str) else None


@register.filter
def status_class(status: str) -> str:
    return {"SUCCESS": "ok", "FAILED": "bad"}.get(str(status), "pending")


@register.filter
def get_item(mapping: dict, key):
    return mapping.get(key, "") if isinstance(mapping, dict) else ""
