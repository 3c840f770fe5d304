"""JWT key rotation under load on the real stack (decision 0015, docs/production.md): the user-token
key and two services' service-token keys are rotated while people keep reading, paying and
refreshing over real HTTP, and nobody gets a 401."""

from __future__ import annotations

import os
import threading
from collections import Counter
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.people import PASSWORD, Person
from walletkit.auth import key_id
from walletkit.devstack.stack import Stack
from walletkit.testing.waiting import wait_until

# The gateway's user-token pair; the service pairs of the two callers on a transfer's path
# (gateway → transaction, transaction → wallet).
PAIRS = ("jwt", "service_gateway", "service_transaction")


def pem_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def pem_private(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def replace(path: Path, content: bytes) -> None:
    """The documented way to change a key file: write aside, rename over it."""
    aside = path.with_name(path.name + ".new")
    aside.write_bytes(content)
    os.replace(aside, path)


class Load:
    """People reading wallets, paying and refreshing their tokens in threads until stopped."""

    def __init__(self, payer: Person, payee: Person, refresh: str) -> None:
        self.payer, self.payee, self.refresh = payer, payee, refresh
        self.statuses: Counter = Counter()
        self.unauthorized: list[str] = []
        self.refreshed_kids: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._reads), threading.Thread(target=self._payments_and_refreshes)]

    def count(self) -> int:
        return sum(self.statuses.values())

    def _record(self, what: str, response) -> None:
        self.statuses[(what, response.status_code)] += 1
        if response.status_code == 401:
            self.unauthorized.append(f"{what}: {response.text[:200]}")

    def _reads(self) -> None:
        while not self.stop.is_set():
            self._record("wallet", self.payer.get(f"/wallets/{self.payer.wallet_id}"))
            self._record("payee wallets", self.payee.get("/wallets"))

    def _payments_and_refreshes(self) -> None:
        while not self.stop.is_set():
            self._record("transfer", self.payer.pay(self.payee.wallet_id, "0.01"))
            refreshed = self.payer.client.post("/auth/token/refresh", json={"refresh": self.refresh})
            self._record("refresh", refreshed)
            if refreshed.status_code == 200:
                self.refresh = refreshed.json()["refresh"]
                self.refreshed_kids.append(jwt.get_unverified_header(refreshed.json()["access"])["kid"])

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def progress(self, requests: int) -> None:
        """Wait until ``requests`` more requests have been answered (the load is really running)."""
        target = self.count() + requests
        wait_until(lambda: self.count() >= target, timeout=60, message=f"{requests} more requests answered")


def test_rotating_the_signing_keys_under_load_logs_nobody_out(stack: Stack, gateway_url: str):
    keys_dir = stack.config.data_dir / "keys"
    old_public = {pair: (keys_dir / f"{pair}_public.pem").read_bytes() for pair in PAIRS}
    payer, payee = Person.sign_up(gateway_url, prefix="rotate"), Person.sign_up(gateway_url, prefix="rotate")
    payer.fund("100.00")
    tokens = payer.client.post("/auth/token", json={"username": payer.username, "password": PASSWORD}).json()
    access_before = tokens["access"]
    new = {pair: rsa.generate_private_key(public_exponent=65537, key_size=2048) for pair in PAIRS}
    new_kid = key_id(new["jwt"].public_key())

    with Load(payer, payee, tokens["refresh"]) as load:
        load.progress(20)
        # Step 1: every verifier trusts the new key next to the old one.
        for pair in PAIRS:
            replace(keys_dir / f"{pair}_public.pem", pem_public(new[pair]) + old_public[pair])
        load.progress(20)
        # Step 2: the signers switch to the new private keys.
        for pair in PAIRS:
            replace(keys_dir / f"{pair}_private.pem", pem_private(new[pair]))
        wait_until(lambda: new_kid in load.refreshed_kids[-3:], timeout=60, message="tokens signed with the new key")
        load.progress(40)

    assert load.unauthorized == [], load.unauthorized[:5]
    assert load.statuses[("transfer", 202)] > 0 and load.statuses[("refresh", 200)] > 0, load.statuses
    # A token signed before the rotation still works until it expires ...
    assert payer.client.get("/wallets", headers={"Authorization": f"Bearer {access_before}"}).status_code == 200
    # ... and only because the old key is still in the bundle (step 3 removes it after the token lifetime).
    replace(keys_dir / "jwt_public.pem", pem_public(new["jwt"]))
    try:
        assert payer.client.get("/wallets", headers={"Authorization": f"Bearer {access_before}"}).status_code == 401
    finally:  # other tests of this session still hold tokens of the old key
        replace(keys_dir / "jwt_public.pem", pem_public(new["jwt"]) + old_public["jwt"])
