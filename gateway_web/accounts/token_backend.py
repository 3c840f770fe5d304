"""simplejwt's token backend with key rotation (decision 0015): tokens it signs carry the ``kid`` of
the gateway's current private key (re-read when the key file changes), and refresh tokens are
verified with the key their ``kid`` names in the JWT_PUBLIC_KEY bundle — so a rotation logs no one out."""

from __future__ import annotations

import jwt
from django.conf import settings
from rest_framework_simplejwt import state
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import TokenBackendError, TokenBackendExpiredToken

from walletkit.auth import jwt_decode, signing_key


class RotatingTokenBackend(TokenBackend):
    def encode(self, payload: dict) -> str:
        kid, key = signing_key(settings.JWT_PRIVATE_KEY)
        return jwt.encode(
            payload, key, algorithm=self.algorithm, headers={"kid": kid}, json_encoder=self.json_encoder
        )  # fmt: skip

    def decode(self, token, verify: bool = True) -> dict:
        if not verify:
            return super().decode(token, verify=False)
        try:
            return jwt_decode(token, settings.JWT_PUBLIC_KEY, algorithms=[self.algorithm], leeway=self.get_leeway())
        except jwt.ExpiredSignatureError as exc:
            raise TokenBackendExpiredToken("Token is expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenBackendError("Token is invalid") from exc


def token_backend_install() -> None:
    """simplejwt's tokens look its backend up by name (``state.token_backend``) on every use."""
    state.token_backend = RotatingTokenBackend(
        settings.SIMPLE_JWT["ALGORITHM"], leeway=settings.SIMPLE_JWT.get("LEEWAY", 0)
    )  # fmt: skip
