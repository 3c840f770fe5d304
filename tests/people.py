"""People using the wallet through the public API, for end-to-end tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import httpx

from walletkit.testing.waiting import wait_until

PASSWORD = "correct-horse-battery-staple-42"


@dataclass
class Person:
    client: httpx.Client
    username: str
    access: str = ""
    wallet_id: str = ""
    headers: dict = field(default_factory=dict)

    @classmethod
    def sign_up(cls, gateway_url: str, *, prefix: str = "user") -> Person:
        client = httpx.Client(base_url=gateway_url + "/api/v1", timeout=30)
        username = f"{prefix}{uuid.uuid4().hex[:10]}"
        registered = client.post(
            "/auth/register", json={"username": username, "email": f"{username}@example.com", "password": PASSWORD}
        )
        assert registered.status_code == 201, registered.text
        person = cls(client=client, username=username)
        person.log_in()
        person.wallet_id = person.wallets()[0]["id"]
        return person

    def log_in(self) -> None:
        tokens = self.client.post("/auth/token", json={"username": self.username, "password": PASSWORD})
        assert tokens.status_code == 200, tokens.text
        self.access = tokens.json()["access"]
        self.headers = {"Authorization": f"Bearer {self.access}"}

    def get(self, path: str, **params) -> httpx.Response:
        return self.client.get(path, headers=self.headers, params=params)

    def post(self, path: str, body: dict, *, key: str | None = None) -> httpx.Response:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(path, headers=headers, json=body)

    def wallets(self) -> list[dict]:
        response = self.get("/wallets")
        assert response.status_code == 200, response.text
        body = response.json()
        return body["results"] if isinstance(body, dict) else body

    def wallet(self, wallet_id: str | None = None) -> dict:
        response = self.get(f"/wallets/{wallet_id or self.wallet_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def balance(self, wallet_id: str | None = None) -> Decimal:
        return Decimal(self.wallet(wallet_id)["balance"])

    def open_wallet(self, currency: str, name: str = "Second") -> str:
        response = self.post("/wallets", {"currency": currency, "name": name})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def deposit(self, amount: str, *, wallet_id: str | None = None, key: str | None = None) -> httpx.Response:
        return self.post(f"/wallets/{wallet_id or self.wallet_id}/deposits", {"amount": amount}, key=key or _key())

    def withdraw(self, amount: str, *, wallet_id: str | None = None, key: str | None = None) -> httpx.Response:
        return self.post(f"/wallets/{wallet_id or self.wallet_id}/withdrawals", {"amount": amount}, key=key or _key())

    def pay(self, to_wallet_id: str, amount: str, *, from_wallet_id: str | None = None, key: str | None = None):
        body = {"from_wallet_id": from_wallet_id or self.wallet_id, "to_wallet_id": to_wallet_id, "amount": amount}
        return self.post("/transfers", body, key=key or _key())

    def transaction(self, transaction_id: str) -> dict:
        response = self.get(f"/transactions/{transaction_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_final(self, transaction_id: str, timeout: float = 60) -> dict:
        return wait_until(
            lambda: (t := self.transaction(transaction_id))["status"] in ("SUCCESS", "FAILED") and t,
            timeout=timeout,
            message=f"transaction {transaction_id} final",
        )

    def fund(self, amount: str) -> None:
        response = self.deposit(amount)
        assert response.status_code == 202, response.text
        assert self.wait_final(response.json()["id"])["status"] == "SUCCESS"


def _key() -> str:
    return str(uuid.uuid4())
