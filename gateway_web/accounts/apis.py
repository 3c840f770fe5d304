"""Users and tokens: sign-up, login (JWT pair), refresh rotation, logout, who am I, password reset
and change, and the signed-in sessions."""

from __future__ import annotations

from django.contrib.auth.validators import UnicodeUsernameValidator
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import session_list_live, user_get_active
from accounts.services import (
    PASSWORD_RESET_ACCEPTED,
    password_reset_confirm,
    password_reset_request,
    session_revoke,
    user_logout,
    user_password_change,
    user_register,
)
from accounts.tokens import TokenObtainSerializer, TokenPairSerializer, session_id_of, token_pair_rotate
from accounts.two_factor import (
    RECOVERY_CODE_COUNT,
    two_factor_confirm,
    two_factor_disable,
    two_factor_setup,
    two_factor_status,
)
from api.auth import GatewayBearerAuthentication, IsUser
from api.shapes import ErrorSerializer
from api.throttling import ScopedThrottle, password_reset_throttle_wait


def _errors(**described: str) -> dict:
    return {int(code[1:]): OpenApiResponse(ErrorSerializer, description=text) for code, text in described.items()}


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    is_staff = serializers.BooleanField()


# Anyone may call these; they are limited per client address by the "auth" throttle scope.
class AuthApi(APIView):
    permission_classes = [AllowAny]
    throttle_classes = [ScopedThrottle]
    throttle_scope = "auth"

    def get_authenticate_header(self, request):
        # Without an authenticator DRF would turn a failed login (401) into 403.
        return 'Bearer realm="api"'


class UserRegisterApi(AuthApi):
    authentication_classes: list = []

    @extend_schema_serializer(component_name="Registration")
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150, validators=[UnicodeUsernameValidator()])
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_register",
        request=InputSerializer,
        responses={
            201: UserOutputSerializer,
            **_errors(
                s400="Invalid input, weak password, username or email taken (see `errors`).",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests.",
                s503="The wallet service is unavailable; no user was created.",
            ),  # fmt: skip
        },
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = user_register(**data.validated_data)
        return Response(UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class TokenObtainApi(AuthApi):
    authentication_classes: list = []

    @extend_schema_serializer(component_name="Credentials")
    class InputSerializer(serializers.Serializer):
        username = serializers.CharField()
        password = serializers.CharField(trim_whitespace=False)
        otp = serializers.CharField(
            required=False, max_length=64,
            help_text="With two-factor sign-in on: the authenticator's current 6-digit code, or an unused "
            "recovery code (spent by this login).",
        )  # fmt: skip

    @extend_schema(
        operation_id="auth_token",
        request=InputSerializer,
        responses={
            200: TokenPairSerializer,
            **_errors(
                s400="Missing fields.",
                s401="Wrong username or password; or, the password being right, `otp_required` (two-factor "
                "sign-in is on and no `otp` was sent: send it again with one) or `otp_invalid` (wrong, "
                "already used or expired code; counts as a failed login).",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests from this address, or `locked_out`: too many failed logins for this "
                "username from this address, or from any address (even the right password is refused "
                "until the cool-off has passed).",
            ),  # fmt: skip
        },
        auth=[],
    )
    def post(self, request):
        # django-axes flags the Django request it was given; hand it the real one, not DRF's wrapper.
        # (a locked username raises LoginLockedOut: 429 locked_out)
        serializer = TokenObtainSerializer(data=request.data, context={"request": request._request})
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data)


class TokenRefreshApi(AuthApi):
    authentication_classes: list = []

    @extend_schema_serializer(component_name="TokenRefresh")
    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(
        operation_id="auth_token_refresh",
        request=InputSerializer,
        responses={
            200: TokenPairSerializer,
            **_errors(
                s400="Missing field.",
                s401="Invalid, expired or already used refresh token, or the account was deactivated. "
                "The new access token carries the user's staff flag as it is now.",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests.",
            ),  # fmt: skip
        },
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(token_pair_rotate(refresh=data.validated_data["refresh"]))


class LogoutApi(AuthApi):
    permission_classes = [IsUser]
    authentication_classes = [GatewayBearerAuthentication]

    @extend_schema_serializer(component_name="Logout")
    class InputSerializer(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(
        operation_id="auth_logout",
        request=InputSerializer,
        responses={
            204: OpenApiResponse(
                description="Logged out: the refresh token no longer works, and the user's open websockets are closed."
            ),
            **_errors(
                s400="Missing field.",
                s401="No valid access token, or a refresh token that is not the caller's.",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests.",
            ),  # fmt: skip
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_logout(user_id=request.user.id, refresh=data.validated_data["refresh"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeApi(APIView):
    @extend_schema(
        operation_id="me",
        responses={200: UserOutputSerializer, **_errors(s401="No valid access token.")},
    )
    def get(self, request):
        user = user_get_active(user_id=request.user.id)
        if user is None:
            raise exceptions.AuthenticationFailed("The account no longer exists.", code="token_not_valid")
        return Response(UserOutputSerializer(user).data)


class PasswordResetApi(AuthApi):
    authentication_classes: list = []
    # Counted per address AND per email address inside the view (api.throttling).
    throttle_classes: list = []

    @extend_schema_serializer(component_name="PasswordReset")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)

    @extend_schema(
        operation_id="auth_password_reset",
        request=InputSerializer,
        responses={
            202: OpenApiResponse(
                inline_serializer("PasswordResetAccepted", {"detail": serializers.CharField()}),
                description="Always, whether or not an account has this email (no account enumeration): "
                "when one does, a link to the reset page is mailed. It works once, for "
                "`PASSWORD_RESET_TIMEOUT` seconds, and not after any other password change.",
            ),
            **_errors(
                s400="Missing or malformed email.",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many reset requests from this address or for this email address "
                "(`THROTTLE_PASSWORD_RESET`, each).",
            ),  # fmt: skip
        },
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"]
        if (wait := password_reset_throttle_wait(request, email=email)) is not None:
            raise exceptions.Throttled(wait=wait)
        password_reset_request(email=email, site=request.build_absolute_uri("/").rstrip("/"))
        return Response({"detail": PASSWORD_RESET_ACCEPTED}, status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(AuthApi):
    authentication_classes: list = []

    @extend_schema_serializer(component_name="PasswordResetConfirm")
    class InputSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        new_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_password_reset_confirm",
        request=InputSerializer,
        responses={
            204: OpenApiResponse(
                description="The password is set; every refresh token of the user stops working (every "
                "session ends) and their websockets close."
            ),
            **_errors(
                s400="`reset_link_invalid` (uid or token wrong, already used or expired), or `invalid` "
                "with `errors.new_password` (the password validators).",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests from this address.",
            ),  # fmt: skip
        },
        auth=[],
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        password_reset_confirm(**data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeApi(AuthApi):
    permission_classes = [IsUser]
    authentication_classes = [GatewayBearerAuthentication]

    @extend_schema_serializer(component_name="PasswordChange")
    class InputSerializer(serializers.Serializer):
        old_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
        new_password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)

    @extend_schema(
        operation_id="auth_password_change",
        request=InputSerializer,
        responses={
            204: OpenApiResponse(
                description="Changed; every other session of the user ends (their refresh tokens stop "
                "working), the caller's own goes on."
            ),
            **_errors(
                s400="`wrong_password` (the current password; counts towards the login lockout), or "
                "`invalid` with `errors.new_password` (the password validators).",
                s401="No valid access token.",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests, or `locked_out` (too many failed logins or wrong current passwords).",
            ),  # fmt: skip
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user_password_change(user_id=request.user.id, session_id=session_id_of(request.auth), **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    created_at = serializers.DateTimeField(help_text="The login that started it.")
    last_used_at = serializers.DateTimeField(help_text="The last time a token was issued to it (login or refresh).")
    user_agent = serializers.CharField(allow_blank=True)
    current = serializers.BooleanField(help_text="The session of the access token making this request.")


class SessionListApi(APIView):
    @extend_schema(
        operation_id="auth_sessions_list",
        responses={200: SessionOutputSerializer(many=True), **_errors(s401="No valid access token.")},
    )
    def get(self, request):
        current = session_id_of(request.auth)
        sessions = [
            {**{name: getattr(session, name) for name in ("id", "created_at", "last_used_at", "user_agent")},
             "current": session.id == current}
            for session in session_list_live(user_id=request.user.id)
        ]  # fmt: skip
        return Response(SessionOutputSerializer(sessions, many=True).data)


class SessionRevokeApi(APIView):
    @extend_schema(
        operation_id="auth_sessions_revoke",
        responses={
            204: OpenApiResponse(
                description="Revoked: the session's refresh token stops working and the user's websockets "
                "close (the other sessions reconnect). Its access token works until it expires."
            ),
            **_errors(s401="No valid access token.", s404="No live session with this id is the caller's."),
        },
    )
    def delete(self, request, session_id):
        session_revoke(user_id=request.user.id, session_id=session_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Two-factor sign-in ---------------------------------------------------------------------------


class TwoFactorStatusOutputSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(help_text="Whether login needs a code.")
    recovery_codes_left = serializers.IntegerField(
        help_text=f"Unused, of the {RECOVERY_CODE_COUNT} given when it was turned on."
    )


class TwoFactorStatusApi(APIView):
    @extend_schema(
        operation_id="auth_2fa_status",
        responses={200: TwoFactorStatusOutputSerializer, **_errors(s401="No valid access token.")},
    )
    def get(self, request):
        return Response(TwoFactorStatusOutputSerializer(two_factor_status(user_id=request.user.id)).data)


class TwoFactorSetupApi(AuthApi):
    permission_classes = [IsUser]
    authentication_classes = [GatewayBearerAuthentication]

    @extend_schema_serializer(component_name="TwoFactorSetupRequest")
    class InputSerializer(serializers.Serializer):
        password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)

    @extend_schema_serializer(component_name="TwoFactorSetup")
    class OutputSerializer(serializers.Serializer):
        secret = serializers.CharField(help_text="Base32, for typing into an authenticator app by hand.")
        otpauth_uri = serializers.CharField(help_text="`otpauth://totp/…`, what the QR code holds.")
        qr_code = serializers.CharField(help_text="A `data:image/svg+xml;base64,…` URI of the QR code, drawn here.")

    @extend_schema(
        operation_id="auth_2fa_setup",
        request=InputSerializer,
        responses={
            200: OpenApiResponse(
                OutputSerializer,
                description="A new secret, not in force until confirmed (`/auth/2fa/confirm`); it replaces "
                "one set up and not confirmed.",
            ),
            **_errors(
                s400="`wrong_password` (counts towards the login lockout).",
                s401="No valid access token.",
                s409="`two_factor_enabled`: already on; turn it off first.",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests, or `locked_out`.",
            ),  # fmt: skip
        },
    )
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        setup = two_factor_setup(user_id=request.user.id, **data.validated_data)
        return Response(self.OutputSerializer(setup).data)


class TwoFactorCodeInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)


class TwoFactorConfirmApi(AuthApi):
    permission_classes = [IsUser]
    authentication_classes = [GatewayBearerAuthentication]

    @extend_schema_serializer(component_name="TwoFactorEnabled")
    class OutputSerializer(serializers.Serializer):
        enabled = serializers.BooleanField()
        recovery_codes = serializers.ListField(
            child=serializers.CharField(),
            help_text=f"{RECOVERY_CODE_COUNT} one-time codes that stand in for the authenticator; shown this "
            "once only.",
        )  # fmt: skip

    @extend_schema(
        operation_id="auth_2fa_confirm",
        request=TwoFactorCodeInputSerializer,
        responses={
            200: OpenApiResponse(OutputSerializer, description="On: from now on login needs a code."),
            **_errors(
                s400="`otp_invalid` (the code is not the secret's current one), or `two_factor_not_set_up`.",
                s401="No valid access token.",
                s409="`two_factor_enabled`: already on.",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests, or `locked_out`.",
            ),  # fmt: skip
        },
    )
    def post(self, request):
        data = TwoFactorCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = two_factor_confirm(user_id=request.user.id, code=data.validated_data["code"])
        return Response(self.OutputSerializer({"enabled": True, "recovery_codes": codes}).data)


class TwoFactorDisableApi(AuthApi):
    permission_classes = [IsUser]
    authentication_classes = [GatewayBearerAuthentication]

    @extend_schema(
        operation_id="auth_2fa_disable",
        request=TwoFactorCodeInputSerializer,
        responses={
            204: OpenApiResponse(description="Off: login needs the password only; the recovery codes are gone."),
            **_errors(
                s400="`otp_invalid` (wrong or used code; counts as a failed login), or `two_factor_not_enabled`.",
                s401="No valid access token.",
                s413="Too large.",
                s415="Not JSON.",
                s429="Too many requests, or `locked_out`.",
            ),  # fmt: skip
        },
    )
    def post(self, request):
        data = TwoFactorCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        two_factor_disable(user_id=request.user.id, code=data.validated_data["code"], request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
