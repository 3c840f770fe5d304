"""Service tokens for tests, signed with the key pairs the test plugin (or the stack) generated."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
from django.conf import settings


def service_token_as(
    caller: str,
    *,
    audience: str | None = None,
    on_behalf_of: int | None = None,
    signed_by: str | None = None,
    keys_dir: Path | None = None,
) -> str:
    """A token as ``caller`` sends it to ``audience`` (default: the service under test). ``signed_by``
    another service's name forges one: that service's key claiming to be ``caller``."""
    key = ((keys_dir or settings.KEYS_DIR) / f"service_{signed_by or caller}_private.pem").read_text()
    now = int(time.time())
    claims = {"svc": caller, "aud": audience or settings.SERVICE_NAME, "iat": now, "exp": now + 60}
    if on_behalf_of is not None:
        claims["user_id"] = on_behalf_of
    return jwt.encode(claims, key, algorithm="RS256")


def user_token(
    user_id: int,
    *,
    is_staff: bool = False,
    seconds: float = 300,
    token_type: str = "access",
    keys_dir: Path | None = None,
) -> str:
    """An access token as the gateway signs it (RS256), with the key the test plugin generated."""
    key = ((keys_dir or settings.KEYS_DIR) / "jwt_private.pem").read_text()
    now = time.time()
    claims = {"user_id": user_id, "is_staff": is_staff, "token_type": token_type}
    claims |= {"iat": int(now), "exp": int(now + seconds)}
    return jwt.encode(claims, key, algorithm="RS256")
