"""DRF fields for money, shared by every service's API: refused, never rounded."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from walletkit.money import InvalidAmount, InvalidCurrency, amount_format, amount_parse, currency_parse


@extend_schema_field({"type": "string", "example": "12.50", "description": "Positive, at most 4 fraction digits."})
class AmountField(serializers.Field):
    """A positive decimal string with at most 4 fraction digits (walletkit.money); out: canonical 4 digits."""

    def to_internal_value(self, data):
        try:
            return amount_parse(data)
        except InvalidAmount as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return amount_format(value)


@extend_schema_field({"type": "string", "example": "USD", "description": "ISO-4217 currency code."})
class CurrencyField(serializers.Field):
    def to_internal_value(self, data):
        try:
            return currency_parse(data)
        except InvalidCurrency as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value):
        return value
