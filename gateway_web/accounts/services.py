"""Writes on users: registration (with the default wallet), logout, password reset and change,
and ending signed-in sessions."""

from __future__ import annotations

import logging
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework import exceptions, status
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.lockout import username_failure_record, username_locked_out
from accounts.models import Session
from accounts.tokens import SESSION_CLAIM, LoginLockedOut
from live.sessions import user_sockets_close
from walletkit.errors import ApiError
from walletkit.http import ServiceUnavailable, service_request

log = logging.getLogger(__name__)
PASSWORD_RESET_SUBJECT = "Reset your wallet password"
# The one answer to a reset request, whether or not the email has an account (API and page).
PASSWORD_RESET_ACCEPTED = "If an account has this email address, a link to choose a new password is on its way."

DEFAULT_WALLET_NAME = "Main"


def _taken(username: str, email: str) -> dict[str, list[str]]:
    User = get_user_model()
    errors = {}
    if User.objects.filter(username__iexact=username).exists():
        errors["username"] = ["A user with that username already exists."]
    if User.objects.filter(email__iexact=email).exists():
        errors["email"] = ["A user with that email already exists."]
    return errors


@transaction.atomic
def user_register(*, username: str, email: str, password: str) -> AbstractUser:
    """The user and their default wallet exist together or not at all.

    The wallet is opened while the user's row is still uncommitted: if the wallet service refuses
    or is down, the user rolls back. A wallet opened just before a failed commit stays orphaned
    under a user id PostgreSQL never hands out again, which is harmless.
    """
    User = get_user_model()
    user = User(username=username, email=email)
    errors = _taken(username, email)
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise exceptions.ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        # Lost a race with a concurrent sign-up that the checks above could not see yet.
        raise exceptions.ValidationError(_taken(username, email) or {"username": ["Already taken."]}) from None
    _default_wallet_open(user_id=user.id)
    return user


def _default_wallet_open(*, user_id: int) -> None:
    unavailable = ApiError(
        "Could not open your wallet right now; nothing was created. Try again shortly.",
        code="service_unavailable",
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )
    try:
        response = service_request(
            "POST", "wallet", "/wallets", on_behalf_of=user_id,
            json={"currency": settings.DEFAULT_CURRENCY, "name": DEFAULT_WALLET_NAME},
        )  # fmt: skip
    except ServiceUnavailable:
        raise unavailable from None
    if response.status_code != status.HTTP_201_CREATED:
        raise unavailable


def _invalid(detail: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code="token_not_valid")


@transaction.atomic
def user_logout(*, user_id: int, refresh: str) -> None:
    """Blacklists the caller's own refresh token (someone else's is refused, never revoked), ends
    its session and closes the user's websockets (a socket would otherwise live on until its token
    expired). The session row is written before the blacklist, the lock order of token_pair_rotate."""
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise _invalid(str(exc)) from None
    if str(token.get("user_id")) != str(user_id):
        raise _invalid("This refresh token belongs to another user.")
    if (sid := token.get(SESSION_CLAIM)) is not None:
        Session.objects.filter(id=sid, user_id=user_id, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.blacklist()
    transaction.on_commit(lambda: user_sockets_close(user_id=user_id))


# --- Sessions ---------------------------------------------------------------------------------


def _blacklist(tokens) -> None:
    BlacklistedToken.objects.bulk_create([BlacklistedToken(token=token) for token in tokens], ignore_conflicts=True)


@transaction.atomic
def session_revoke(*, user_id: int, session_id: UUID) -> None:
    """Ends one of the user's live sessions: its refresh token stops working at once (its access
    token lives on until it expires, JWT_ACCESS_SECONDS). Another user's session, or one already
    ended, is ``not_found``. Locks the session row, then (by blacklisting) its token: the order
    of token_pair_rotate, so a rotation in flight finishes first and its new token is the one
    blacklisted here."""
    now = timezone.now()
    session = (
        Session.objects.select_for_update()
        .filter(id=session_id, user_id=user_id, revoked_at__isnull=True, expires_at__gt=now)
        .first()
    )
    if session is None:
        raise ApiError("No such session.", code="not_found", status_code=status.HTTP_404_NOT_FOUND)
    session.revoked_at = now
    session.save(update_fields=["revoked_at"])
    _blacklist(OutstandingToken.objects.filter(jti=session.refresh_jti))
    # Every socket of the user closes; the sessions still signed in reconnect with their own token.
    transaction.on_commit(lambda: user_sockets_close(user_id=user_id))


def session_revoke_all(*, user_id: int, except_session_id: UUID | None = None) -> None:
    """Ends every session of the user but ``except_session_id``, and blacklists every refresh token
    of the user but that session's one (tokens from before sessions existed too). Call inside the
    transaction that changed the password. Sessions are locked in id order, then tokens are
    blacklisted: the order of token_pair_rotate."""
    sessions = list(Session.objects.select_for_update().filter(user_id=user_id, revoked_at__isnull=True).order_by("id"))
    kept = next((session for session in sessions if session.id == except_session_id), None)
    ended = [session.id for session in sessions if session is not kept]
    Session.objects.filter(id__in=ended).update(revoked_at=timezone.now())
    live = OutstandingToken.objects.filter(user_id=user_id, blacklistedtoken__isnull=True)
    _blacklist(live.exclude(jti=kept.refresh_jti) if kept is not None else live)
    transaction.on_commit(lambda: user_sockets_close(user_id=user_id))


# --- Passwords ----------------------------------------------------------------------------------


def _password_set(user: AbstractUser, password: str) -> None:
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise exceptions.ValidationError({"new_password": list(exc.messages)}) from None
    user.set_password(password)
    user.save(update_fields=["password"])


def _password_reset_message(*, user: AbstractUser, email: str, site: str) -> EmailMultiAlternatives:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("pages:password-reset-confirm", kwargs={"uidb64": uid, "token": token})
    context = {
        "username": user.username, "link": f"{site}{path}",
        "valid_minutes": settings.PASSWORD_RESET_TIMEOUT // 60,
    }  # fmt: skip
    message = EmailMultiAlternatives(
        PASSWORD_RESET_SUBJECT, render_to_string("accounts/password_reset_email.txt", context), to=[email]
    )
    message.attach_alternative(render_to_string("accounts/password_reset_email.html", context), "text/html")
    return message


def password_reset_request(*, email: str, site: str) -> None:
    """Mails a one-time link (``site`` + the reset page) when an active account has this email.

    The caller answers the same whatever happens here, and this does the same work either way —
    the lookup, a token, both bodies rendered — for a stand-in user when there is no account, so
    neither the answer nor its timing tells whether the email has an account. A mail that cannot
    be sent is logged, never reported (that too would tell).
    """
    User = get_user_model()
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    recipient = user or User(username="", email=email, password=make_password(None))
    message = _password_reset_message(user=recipient, email=email, site=site)
    if user is None or not user.has_usable_password():
        return
    try:
        message.send()
    except Exception:  # noqa: BLE001 — an SMTP failure must not show, nor turn the 202 into a 500
        log.exception("could not send the password reset mail of user %s", user.pk)


def _user_from_uid(uidb64: str) -> AbstractUser | None:
    try:
        user_id = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return get_user_model().objects.select_for_update().filter(id=user_id, is_active=True).first()


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Sets the password if ``token`` is valid for the user ``uid`` names, then ends every session.

    Django's token hashes the current password, so it works once: the user row is locked first,
    and a second use of the same link — even concurrent — sees the new password and is refused.
    It expires after PASSWORD_RESET_TIMEOUT, and any password change invalidates it.
    """
    user = _user_from_uid(uid)
    if user is None or not default_token_generator.check_token(user, token):
        raise ApiError(
            "This reset link is invalid, already used or expired; ask for a new one.", code="reset_link_invalid"
        )
    _password_set(user, new_password)
    session_revoke_all(user_id=user.id)


@transaction.atomic
def user_password_change(*, user_id: int, session_id: UUID | None, old_password: str, new_password: str) -> None:
    """Needs the current password (a wrong one counts towards the username lockout, so a stolen
    access token cannot be used to guess it); then ends every session but ``session_id``, the
    caller's own. Locks the user row, then the sessions."""
    user = get_user_model().objects.select_for_update().filter(id=user_id, is_active=True).first()
    if user is None:
        raise exceptions.AuthenticationFailed("The account no longer exists.", code="token_not_valid")
    if username_locked_out(username=user.username):
        raise LoginLockedOut()
    if not user.check_password(old_password):
        username_failure_record(username=user.username)
        raise ApiError("The current password is wrong.", code="wrong_password")
    _password_set(user, new_password)
    session_revoke_all(user_id=user.id, except_session_id=session_id)
