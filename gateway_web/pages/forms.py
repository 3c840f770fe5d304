"""Form validation for the pages: cheap checks here, every business rule stays in the services."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator

from api.shapes import TRANSACTION_STATUSES, TRANSACTION_TYPES
from walletkit.money import InvalidAmount, InvalidCurrency, amount_parse, currency_parse

IDEMPOTENCY_KEY_MAX_LENGTH = 255


def idempotency_key_new() -> str:
    return str(uuid.uuid4())


class SignupForm(forms.Form):
    username = forms.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
    email = forms.EmailField(max_length=254)
    password = forms.CharField(
        max_length=128, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )
    username.widget.attrs.update(autocomplete="username", autocapitalize="none")
    email.widget.attrs.update(autocomplete="email")


def _code_field(**kwargs) -> forms.CharField:
    """A TOTP code from an authenticator app, or a recovery code (letters and digits)."""
    field = forms.CharField(max_length=64, label="Authentication code", **kwargs)
    field.widget.attrs.update(autocomplete="one-time-code", autocapitalize="none", spellcheck="false")
    return field


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(
        max_length=128, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )
    username.widget.attrs.update(autocomplete="username", autocapitalize="none")
    otp = _code_field(
        required=False,
        help_text="Only with two-factor sign-in on: the 6-digit code from your authenticator app, or a recovery code.",
    )


def _new_password_field(label: str = "New password") -> forms.CharField:
    return forms.CharField(
        max_length=128, strip=False, label=label,
        help_text="At least 10 characters, not a common password.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )  # fmt: skip


class PasswordResetForm(forms.Form):
    email = forms.EmailField(max_length=254)
    email.widget.attrs.update(autocomplete="email")


class SetPasswordForm(forms.Form):
    new_password = _new_password_field()


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(
        max_length=128, strip=False, label="Current password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )  # fmt: skip
    new_password = _new_password_field()


class TwoFactorSetupForm(forms.Form):
    password = forms.CharField(
        max_length=128, strip=False, label="Your password",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )  # fmt: skip


class TwoFactorCodeForm(forms.Form):
    code = _code_field()


class AmountField(forms.CharField):
    """Refused, never rounded, unless exactly representable (walletkit.money)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 40)
        super().__init__(**kwargs)
        self.widget.attrs.update(inputmode="decimal", autocomplete="off", placeholder="0.00")

    def clean(self, value):
        value = super().clean(value)
        try:
            return amount_parse(value)
        except InvalidAmount as exc:
            raise forms.ValidationError(str(exc)) from None


class MovementForm(forms.Form):
    """Deposit or withdrawal. The key is made when the form is first shown and travels with it."""

    amount = AmountField()
    idempotency_key = forms.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH, widget=forms.HiddenInput)


class OptionalAmountField(AmountField):
    """Blank means none (no limit)."""

    def __init__(self, **kwargs):
        super().__init__(required=False, **kwargs)
        self.widget.attrs["placeholder"] = "no limit"

    def clean(self, value):
        return None if not (value or "").strip() else super().clean(value)


class LimitsForm(forms.Form):
    daily_out = OptionalAmountField(label="Daily limit (UTC day)", help_text="Blank: no limit.")
    monthly_out = OptionalAmountField(label="Monthly limit (UTC month)", help_text="Blank: no limit.")


class RefundForm(forms.Form):
    amount = AmountField()
    idempotency_key = forms.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH, widget=forms.HiddenInput)


class TransferForm(forms.Form):
    from_wallet = forms.ChoiceField(label="From wallet")
    recipient = forms.CharField(
        max_length=150, label="To (username or wallet id)", help_text="A username, or the id of a wallet."
    )
    amount = AmountField()
    idempotency_key = forms.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH, widget=forms.HiddenInput)
    recipient.widget.attrs.update(autocomplete="off", autocapitalize="none")

    def __init__(self, *args, wallets: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_wallet"].choices = [
            (w["id"], f"{w['name'] or 'Wallet'} · {w['currency']} · {w['available']} available") for w in wallets
        ]


class WalletOpenForm(forms.Form):
    currency = forms.CharField(max_length=3, min_length=3, help_text="ISO 4217 code, e.g. EUR.")
    name = forms.CharField(max_length=100, required=False)
    currency.widget.attrs.update(autocapitalize="characters", autocomplete="off", size="4")

    def clean_currency(self):
        try:
            return currency_parse(self.cleaned_data["currency"].upper())
        except InvalidCurrency as exc:
            raise forms.ValidationError(str(exc)) from None


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [("", "Any"), *((v, v.capitalize()) for v in values)]


class HistoryFilterForm(forms.Form):
    status = forms.ChoiceField(choices=_choices(TRANSACTION_STATUSES), required=False)
    type = forms.ChoiceField(choices=_choices(TRANSACTION_TYPES), required=False)
    since = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="Until", widget=forms.DateInput(attrs={"type": "date"}))
    cursor = forms.CharField(required=False, max_length=512, widget=forms.HiddenInput)


class StatementPeriodForm(forms.Form):
    period = forms.ChoiceField(
        choices=[("this", "This month"), ("last", "Last month"), ("custom", "Custom")], required=False, initial="this"
    )
    first = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))


class ResolveForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("acknowledge", "Acknowledge (nothing moves)"),
            ("resync", "Resync the wallet to the ledger"),
            ("adjust", "Adjusting entry, then resync"),
        ]
    )
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))
    amount = forms.CharField(
        max_length=40, required=False, help_text='Adjust only: signed, e.g. "-5.00".', label="Amount"
    )
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("action") == "adjust":
            raw = (data.get("amount") or "").strip()
            try:
                amount_parse(raw.removeprefix("-"))
            except InvalidAmount as exc:
                self.add_error("amount", str(exc))
        return data


class ScheduleForm(TransferForm):
    """A transfer repeated on UTC dates. The key makes a resubmit one schedule, not two (pages.plans)."""

    start_date = forms.DateField(label="First payment (UTC date)", widget=forms.DateInput(attrs={"type": "date"}))
    repeat = forms.ChoiceField(
        choices=[("none", "Once"), ("daily", "Every day"), ("weekly", "Every week"), ("monthly", "Every month")],
        help_text="Monthly on the 29th–31st pays on the last day of shorter months.",
    )
    end_date = forms.DateField(
        required=False, label="Last payment (optional)", widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(max_length=140, required=False)


class PaymentRequestForm(forms.Form):
    to_wallet = forms.ChoiceField(label="Into wallet")
    payer_username = forms.CharField(max_length=150, label="Ask (username)")
    amount = AmountField()
    note = forms.CharField(max_length=140, required=False)
    idempotency_key = forms.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH, widget=forms.HiddenInput)
    payer_username.widget.attrs.update(autocomplete="off", autocapitalize="none")

    def __init__(self, *args, wallets: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_wallet"].choices = [(w["id"], f"{w['name'] or 'Wallet'} · {w['currency']}") for w in wallets]


class PayRequestForm(forms.Form):
    from_wallet = forms.ChoiceField(label="Pay from")
    idempotency_key = forms.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH, widget=forms.HiddenInput)

    def __init__(self, *args, wallets: list[dict], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_wallet"].choices = [
            (w["id"], f"{w['name'] or 'Wallet'} · {w['currency']} · {w['available']} available") for w in wallets
        ]
