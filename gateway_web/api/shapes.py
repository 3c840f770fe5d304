"""The public shapes (API.md), used to render what the services answer and to document it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

TRANSACTION_TYPES = ["DEPOSIT", "WITHDRAWAL", "TRANSFER", "REFUND"]
TRANSACTION_STATUSES = ["INITIATED", "RESERVED", "SUCCESS", "FAILED"]
DIRECTIONS = ["CREDIT", "DEBIT"]


@extend_schema_field({"type": "string", "pattern": r"^\d+\.\d{4}$", "example": "12.5000"})
class AmountOutField(serializers.CharField):
    """A decimal string with 4 fraction digits, as the services format it."""


class WalletSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(allow_blank=True)
    currency = serializers.CharField()
    balance = AmountOutField()
    held = AmountOutField()
    available = AmountOutField()
    created_at = serializers.DateTimeField()


class CounterpartySerializer(serializers.Serializer):
    username = serializers.CharField(allow_null=True, help_text="As it is now; null if the user was deleted.")
    wallet_id = serializers.UUIDField()


class TransactionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=TRANSACTION_TYPES)
    status = serializers.ChoiceField(choices=TRANSACTION_STATUSES)
    amount = AmountOutField()
    currency = serializers.CharField(allow_null=True)
    from_wallet_id = serializers.UUIDField(allow_null=True)
    to_wallet_id = serializers.UUIDField(allow_null=True)
    failure_reason = serializers.CharField(allow_blank=True, allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    reserved_at = serializers.DateTimeField(allow_null=True, required=False, help_text="When funds were reserved.")
    posted_at = serializers.DateTimeField(allow_null=True, required=False, help_text="When the ledger posted it.")
    refund_of = serializers.UUIDField(
        allow_null=True, required=False, help_text="A REFUND's original transfer; null for every other type."
    )
    counterparty = CounterpartySerializer(
        allow_null=True, required=False, help_text="A transfer's other side as the caller sees it; null otherwise."
    )


class TransactionDetailSerializer(TransactionSerializer):
    refunds = TransactionSerializer(
        many=True, required=False, help_text="A transfer's refunds (type REFUND), oldest first; empty otherwise."
    )


class WalletLimitsSerializer(serializers.Serializer):
    daily_out = AmountOutField(allow_null=True, help_text="Outgoing per UTC day; null: no limit.")
    monthly_out = AmountOutField(allow_null=True, help_text="Outgoing per UTC month; null: no limit.")
    daily_used = AmountOutField(help_text="Reserved or settled outgoing today (UTC), refused/failed ones excluded.")
    monthly_used = AmountOutField(help_text="The same, this UTC month.")


class HistoryEntrySerializer(serializers.Serializer):
    id = serializers.CharField()
    transaction_id = serializers.UUIDField()
    wallet_id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=TRANSACTION_TYPES)
    direction = serializers.ChoiceField(choices=DIRECTIONS)
    amount = AmountOutField()
    currency = serializers.CharField()
    counterparty_wallet_id = serializers.UUIDField(allow_null=True)
    counterparty = CounterpartySerializer(allow_null=True, required=False, help_text="A transfer's other side.")
    status = serializers.ChoiceField(choices=TRANSACTION_STATUSES)
    failure_reason = serializers.CharField(allow_blank=True, required=False)
    occurred_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(required=False, help_text="Last status change: the catch-up mark.")


class TransactionPageSerializer(serializers.Serializer):
    results = TransactionSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="Full URL of the next page, or null on the last one.")


class HistoryPageSerializer(serializers.Serializer):
    results = HistoryEntrySerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="Full URL of the next page, or null on the last one.")


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, machine-readable.")
    detail = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False)


class HistoryQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(required=False, max_length=512)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100)
    status = serializers.ChoiceField(choices=TRANSACTION_STATUSES, required=False)
    type = serializers.ChoiceField(choices=TRANSACTION_TYPES, required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
    # Websocket catch-up: entries whose status changed at or after this time.
    changed_since = serializers.DateTimeField(required=False)


class TransactionQuerySerializer(serializers.Serializer):
    wallet = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=TRANSACTION_STATUSES, required=False)
    cursor = serializers.CharField(required=False, max_length=512)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100)


SCHEDULE_REPEATS = ["none", "daily", "weekly", "monthly"]
SCHEDULE_STATUSES = ["ACTIVE", "PAUSED", "CANCELLED", "COMPLETED"]
RUN_STATUSES = [*TRANSACTION_STATUSES, "PENDING", "SKIPPED"]


class ScheduledRunSerializer(serializers.Serializer):
    run_on = serializers.DateField(help_text="The UTC date this run is for.")
    transaction_id = serializers.UUIDField(allow_null=True, help_text="The transfer this run made, once made.")
    status = serializers.ChoiceField(
        choices=RUN_STATUSES,
        help_text="The transfer's status; without a transfer: PENDING (being paid), FAILED (refused before a "
        "transfer was made) or SKIPPED (the schedule was paused or cancelled before the run started).",
    )
    failure_reason = serializers.CharField(allow_null=True, help_text="e.g. insufficient_funds, limit_exceeded.")
    amount = AmountOutField()


class ScheduledTransferSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    from_wallet_id = serializers.UUIDField()
    to_wallet_id = serializers.UUIDField()
    amount = AmountOutField()
    currency = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    repeat = serializers.ChoiceField(choices=SCHEDULE_REPEATS)
    start_date = serializers.DateField()
    end_date = serializers.DateField(allow_null=True)
    status = serializers.ChoiceField(
        choices=SCHEDULE_STATUSES, help_text="COMPLETED: no run is left (a one-off that ran, or past end_date)."
    )
    next_run_on = serializers.DateField(allow_null=True, help_text="The next run's UTC date; null when none.")
    created_at = serializers.DateTimeField()
    runs = ScheduledRunSerializer(many=True, help_text="Oldest first.")


PAYMENT_REQUEST_STATUSES = ["PENDING", "PAID", "DECLINED", "CANCELLED", "EXPIRED"]


class PaymentRequestSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    requester = serializers.CharField(help_text="Username of who asks to be paid.")
    payer = serializers.CharField(help_text="Username of who is asked to pay.")
    to_wallet_id = serializers.UUIDField()
    amount = AmountOutField()
    currency = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(
        choices=PAYMENT_REQUEST_STATUSES, help_text="PENDING also while being paid (transaction_id is then set)."
    )
    transaction_id = serializers.UUIDField(allow_null=True, help_text="The transfer paying it (the latest try).")
    failure_reason = serializers.CharField(allow_null=True, help_text="Why the latest try to pay it was refused.")
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)


class PaymentRequestPageSerializer(serializers.Serializer):
    results = PaymentRequestSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="Full URL of the next page, or null on the last one.")


class PaymentRequestQuerySerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=["payer", "requester"], required=False, help_text="payer: incoming; requester: outgoing; none: both."
    )
    status = serializers.ChoiceField(choices=PAYMENT_REQUEST_STATUSES, required=False)
    cursor = serializers.CharField(required=False, max_length=512)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100)


class StatementLineSerializer(serializers.Serializer):
    occurred_at = serializers.DateTimeField()
    transaction_id = serializers.UUIDField()
    type = serializers.CharField(help_text="DEPOSIT, WITHDRAWAL, TRANSFER (or a staff ADJUSTMENT).")
    direction = serializers.ChoiceField(choices=DIRECTIONS)
    amount = AmountOutField()
    counterparty = CounterpartySerializer(allow_null=True, help_text="The other wallet of a transfer, else null.")
    balance_after = AmountOutField()


class StatementSerializer(serializers.Serializer):
    wallet_id = serializers.UUIDField()
    currency = serializers.CharField()
    # `from` is a Python keyword: declared below.
    to = serializers.DateField()
    opening_balance = AmountOutField()
    closing_balance = AmountOutField()
    total_in = AmountOutField()
    total_out = AmountOutField()
    lines = StatementLineSerializer(many=True)


StatementSerializer._declared_fields["from"] = serializers.DateField()


class BalanceAtSerializer(serializers.Serializer):
    wallet_id = serializers.UUIDField()
    currency = serializers.CharField()
    at = serializers.DateTimeField()
    balance = AmountOutField()
