"""What reconciliation asks the other services, over their internal APIs with a service token.

Every list is read in keyset pages (``next`` → ``after``), never as one giant response.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from prometheus_client.parser import text_string_to_metric_families

from walletkit.http import ServiceUnavailable, service_request

PAGE = 500
# Services whose dead letters and metrics reconciliation shows (the gateway consumes no topic).
WORKER_SERVICES = ("wallet", "transaction", "ledger", "history")


class ServiceError(ServiceUnavailable):
    """The service answered, but not with what the contract says."""


def _json(response, *, ok: tuple[int, ...] = (200,)) -> dict:
    if response.status_code not in ok:
        raise ServiceError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}"
        )
    return response.json()


def _pages(service: str, path: str, params: dict) -> Iterator[dict]:
    """Every page of a keyset-paged internal list: each page's ``next`` is the ``after`` of the following."""
    after = None
    while True:
        keyset = {"after": after} if after is not None else {}
        body = _json(service_request("GET", service, path, params=params | keyset))
        yield body
        after = body["next"]
        if after is None:
            return


def _results(service: str, path: str, params: dict) -> Iterator[dict]:
    for body in _pages(service, path, params):
        yield from body["results"]


def wallet_pages(*, captured_since: datetime, page: int = PAGE) -> Iterator[dict]:
    """Pages of ``{wallets, holds}``; each page is one consistent snapshot of the wallet database."""
    params = {"limit": page, "captured_since": captured_since.isoformat()}
    return _pages("wallet", "/internal/reconciliation/wallets", params)


def wallet_one(*, wallet_id: UUID, captured_since: datetime) -> dict | None:
    """One wallet's page: keyset ``after`` the id just before it, limit 1 (the page API has no filter by id)."""
    params = {"limit": 1, "after": str(UUID(int=wallet_id.int - 1)), "captured_since": captured_since.isoformat()}
    body = _json(service_request("GET", "wallet", "/internal/reconciliation/wallets", params=params))
    if not body["wallets"] or body["wallets"][0]["id"] != str(wallet_id):
        return None
    return body


def wallet_resync(*, wallet_id: UUID, balance: Decimal, expected_version: int, reason: str, actor: str):
    """Returns the httpx response: 200 wallet, 409 ``version_conflict``, 404, 422 ``balance_below_held``."""
    return service_request(
        "POST", "wallet", f"/internal/wallets/{wallet_id}/resync",
        json={"balance": f"{balance:.4f}", "expected_version": expected_version, "reason": reason, "actor": actor},
    )  # fmt: skip


def transactions_success(*, page: int = PAGE) -> Iterator[dict]:
    return _results("transaction", "/internal/reconciliation/transactions", {"status": "SUCCESS", "limit": page})


def transactions_changed(*, since: datetime, page: int = PAGE) -> Iterator[dict]:
    """Transactions of any status whose row changed at or after ``since`` (incremental runs; keyset on
    (updated_at, id), ``next`` opaque)."""
    params = {"changed_since": since.isoformat(), "limit": page}
    return _results("transaction", "/internal/reconciliation/transactions", params)


def transactions_lookup(*, ids: list[UUID]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for start in range(0, len(ids), 1000):
        chunk = [str(i) for i in ids[start : start + 1000]]
        body = _json(
            service_request("POST", "transaction", "/internal/reconciliation/transactions/lookup", json={"ids": chunk})
        )
        found |= {row["id"]: row for row in body["results"]}
    return found


def stuck_sagas(*, older_than: float | None = None) -> dict:
    params = {"older_than": older_than} if older_than is not None else {}
    return _json(service_request("GET", "transaction", "/internal/reconciliation/stuck-sagas", params=params))


def anomalies() -> Iterator[dict]:
    return _results("transaction", "/internal/reconciliation/anomalies", {"limit": PAGE})


def dead_letters(*, service: str) -> Iterator[dict]:
    return _results(service, "/internal/dead-letters", {"limit": 100})


def worker_metrics(*, service: str) -> dict:
    """Outbox backlog and consumer lag from the service's own Prometheus ``/metrics``.

    /metrics is the one place every process of a service (web, relay, consumers) reports to, through
    the multiprocess directory; reading it keeps reconciliation and Prometheus on the same numbers.
    """
    response = service_request("GET", service, "/metrics")
    if response.status_code != 200:
        raise ServiceError(f"{service} /metrics: {response.status_code}")
    backlog, lag = None, {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "outbox_backlog":
                backlog = int(sample.value)
            elif sample.name == "consumer_lag":
                consumer = sample.labels.get("consumer", "")
                lag[consumer] = lag.get(consumer, 0) + int(sample.value)
    return {"outbox_backlog": backlog, "consumer_lag": lag}
