"""RSA key pairs for JWTs, generated on the first run into the data directory.

``jwt``: user access tokens, signed by the gateway. ``service_<name>``: one pair per service for
service-to-service tokens, so that holding one service's key never lets you sign as another
(decision 0003). Production supplies its own through JWT_PRIVATE_KEY / JWT_PUBLIC_KEY,
SERVICE_JWT_PRIVATE_KEY and SERVICE_JWT_PUBLIC_KEY_<NAME>.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# Who may sign a service token: every service that calls another (the `svc` claim).
SERVICE_NAMES = ("gateway", "transaction", "wallet", "ledger", "history")
PAIRS = ("jwt", *(f"service_{name}" for name in SERVICE_NAMES))


def keys_ensure(keys_dir: Path) -> None:
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    for pair in PAIRS:
        private_path, public_path = keys_dir / f"{pair}_private.pem", keys_dir / f"{pair}_public.pem"
        if private_path.exists() and public_path.exists():
            continue
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        os.chmod(private_path, 0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )
