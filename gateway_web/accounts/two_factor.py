"""Optional two-factor sign-in: a TOTP authenticator (RFC 6238) and ten one-time recovery codes,
kept in django-otp's devices (decision 0011).

A user has two-factor sign-in when they have a *confirmed* TOTP device: setup makes an unconfirmed
one (its secret shown as a QR code drawn here, by ``qrcode``), and a first right code confirms it.
Every check of a code locks the device row first: django-otp reads ``last_t`` (the step of the
last accepted code) or the recovery code and then writes it, so without the lock two requests
carrying the same code could both pass.
"""

from __future__ import annotations

import base64
import io
from base64 import b32encode
from dataclasses import dataclass

import qrcode
import qrcode.image.svg
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework import exceptions, status

from accounts.lockout import LoginLockedOut, login_code_failure_record, username_failure_record, username_locked_out
from walletkit.errors import ApiError

RECOVERY_CODE_COUNT = 10
DEVICE_NAME = "authenticator"
TOTP_DIGITS = 6


@dataclass(frozen=True)
class TwoFactorSetup:
    secret: str  # base32, what an authenticator app takes when typed in by hand
    otpauth_uri: str
    qr_code: str  # a data: URI of an SVG image of ``otpauth_uri``


class CodeInvalid(ApiError):
    def __init__(self):
        super().__init__("The code is wrong or was already used.", code="otp_invalid")


# --- Reads ----------------------------------------------------------------------------------------


def two_factor_enabled(*, user_id: int) -> bool:
    return TOTPDevice.objects.filter(user_id=user_id, confirmed=True).exists()


def recovery_codes_left(*, user_id: int) -> int:
    return StaticToken.objects.filter(device__user_id=user_id).count()


def two_factor_status(*, user_id: int) -> dict:
    return {"enabled": two_factor_enabled(user_id=user_id), "recovery_codes_left": recovery_codes_left(user_id=user_id)}


def two_factor_pending(*, user_id: int) -> TwoFactorSetup | None:
    """The setup started and not confirmed yet, if any (the settings page shows it again)."""
    device = TOTPDevice.objects.filter(user_id=user_id, confirmed=False).first()
    return _setup_of(device) if device is not None else None


def _setup_of(device: TOTPDevice) -> TwoFactorSetup:
    uri = device.config_url
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg = io.BytesIO()
    image.save(svg)
    return TwoFactorSetup(
        secret=b32encode(device.bin_key).decode(),
        otpauth_uri=uri,
        qr_code="data:image/svg+xml;base64," + base64.b64encode(svg.getvalue()).decode(),
    )


# --- Checking a code -------------------------------------------------------------------------------


def _normalized(code: str) -> str:
    """People type codes with spaces or dashes, recovery codes in any case."""
    return "".join(code.split()).replace("-", "").lower()


@transaction.atomic
def two_factor_code_accepted(*, user_id: int, code: str) -> bool:
    """A current TOTP code (±1 step of drift, never one at or before the last accepted step) or an
    unused recovery code (then spent). Only the confirmed devices count."""
    code = _normalized(code)
    if code.isdigit() and len(code) == TOTP_DIGITS:
        device = TOTPDevice.objects.select_for_update().filter(user_id=user_id, confirmed=True).first()
    else:
        device = StaticDevice.objects.select_for_update().filter(user_id=user_id, confirmed=True).first()
    return device is not None and bool(code) and device.verify_token(code)


def login_second_factor_check(*, user: AbstractUser, code: str | None, request: HttpRequest | None) -> None:
    """Called once the password was right. Without two-factor sign-in, nothing to do; with it, no
    code is ``otp_required`` (not a failure: a two-step client asks like that) and a wrong one is
    ``otp_invalid``, counted as a failed login by both lockouts (django-axes and the username one)."""
    if not two_factor_enabled(user_id=user.id):
        return
    if not code:
        raise exceptions.AuthenticationFailed(
            "This account has two-factor sign-in: send the code from the authenticator app, or a "
            "recovery code, as `otp`.",
            code="otp_required",
        )
    if not two_factor_code_accepted(user_id=user.id, code=code):
        login_code_failure_record(username=user.get_username(), request=request)
        raise exceptions.AuthenticationFailed("The code is wrong or was already used.", code="otp_invalid")


# --- Turning it on and off -------------------------------------------------------------------------


def _user_locked(user_id: int) -> AbstractUser:
    user = get_user_model().objects.select_for_update().filter(id=user_id, is_active=True).first()
    if user is None:
        raise exceptions.AuthenticationFailed("The account no longer exists.", code="token_not_valid")
    if username_locked_out(username=user.get_username()):
        raise LoginLockedOut()
    return user


def _already_enabled() -> ApiError:
    return ApiError(
        "Two-factor sign-in is already on; turn it off first.",
        code="two_factor_enabled", status_code=status.HTTP_409_CONFLICT,
    )  # fmt: skip


@transaction.atomic
def two_factor_setup(*, user_id: int, password: str) -> TwoFactorSetup:
    """A new secret, not in force until confirmed; it replaces an unconfirmed one. Needs the
    password (a wrong one counts towards the username lockout), so that a stolen access token
    alone cannot put the account under a second factor its owner does not have."""
    user = _user_locked(user_id)
    if not user.check_password(password):
        username_failure_record(username=user.get_username())
        raise ApiError("The password is wrong.", code="wrong_password")
    if two_factor_enabled(user_id=user.id):
        raise _already_enabled()
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return _setup_of(TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False))


@transaction.atomic
def two_factor_confirm(*, user_id: int, code: str) -> list[str]:
    """Turns it on with a first right code from the new secret; returns the ten recovery codes,
    the only time they are shown (earlier ones, if any, are gone)."""
    user = _user_locked(user_id)
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
    if device is None:
        if two_factor_enabled(user_id=user.id):
            raise _already_enabled()
        raise ApiError("Set up two-factor sign-in first.", code="two_factor_not_set_up")
    # A wrong code here is not a login failure: whoever sends it already holds the secret.
    if not device.verify_token(_normalized(code)):
        raise CodeInvalid()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    StaticDevice.objects.filter(user=user).delete()
    recovery = StaticDevice.objects.create(user=user, name="recovery codes", confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=recovery, token=code) for code in codes])
    return codes


def two_factor_disable(*, user_id: int, code: str, request: HttpRequest | None) -> None:
    """Needs a right code (TOTP or a recovery code); a wrong one counts as a failed login, so a
    stolen access token cannot be used to guess one. Every device of the user goes."""
    if not _devices_remove_with_code(user_id=user_id, code=code):
        # Counted after the refused attempt rolled back, or django-axes' record would roll back too.
        login_code_failure_record(username=get_user_model().objects.get(id=user_id).get_username(), request=request)
        raise CodeInvalid()


@transaction.atomic
def _devices_remove_with_code(*, user_id: int, code: str) -> bool:
    user = _user_locked(user_id)
    if not two_factor_enabled(user_id=user.id):
        raise ApiError("Two-factor sign-in is not on.", code="two_factor_not_enabled")
    if not two_factor_code_accepted(user_id=user.id, code=code):
        return False
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    return True
