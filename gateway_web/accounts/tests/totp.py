"""An authenticator app for the tests: TOTP codes computed from a secret, against a frozen clock
(the ``clock`` fixture, conftest.py) that tests move by whole steps."""

from __future__ import annotations

from base64 import b32decode
from types import SimpleNamespace

from django_otp.oath import TOTP

STEP = 30
NOW = 1_900_000_020.0 + 10  # 10 s into a step: every code is a whole number of steps away


def code(secret: str, clock: SimpleNamespace, steps: int = 0) -> str:
    """The authenticator's code ``steps`` time steps from the frozen clock."""
    totp = TOTP(b32decode(secret), step=STEP)
    totp.time = clock.now + steps * STEP
    return f"{totp.token():06d}"
