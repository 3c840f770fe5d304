"""Chaos: faults injected while people keep paying each other, then every money invariant holds.

A sustained workload (concurrent transfers, overdrafts that must be refused, retried idempotency
keys) runs on the ``stack`` for the whole test. Faults come at random points of that workload
(after a random number of further requests, not after a guessed delay): SIGKILL of every relay,
every consumer, the sweeper and web processes (the supervisor restarts them), a broker restart
(memory storage: every event, topic and offset is gone), a PostgreSQL restart, and a wallet that
stops answering its reserve calls (SIGSTOP of its process group). After each fault the time until
a fresh deposit is SUCCESS again is measured. At the end every request is settled by retrying its
own idempotency key, the system must go quiet, and ``tests/invariants.py`` must find nothing.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest

from tests import invariants
from tests.people import Person
from walletkit.devstack import infra
from walletkit.devstack.stack import Stack
from walletkit.testing.waiting import wait_until

PEOPLE = 6
WORKLOAD_THREADS = 4
START_FUNDS = "60"
RETRY_SHARE = 0.2  # of requests re-send an earlier key with the same body (a client retrying)
DECISIVE = {202, 422}  # a request with one of these answers is settled; anything else is retried
RELAYS = ("transaction-relay", "wallet-relay", "ledger-relay")
CONSUMERS = ("transaction-consumer", "wallet-consumer", "ledger-consumer", "history-consumer")


@dataclass
class Workload:
    """Transfers between ``people`` from several threads until stopped; remembers every key's answers."""

    people: list[Person]
    rng: random.Random
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: dict[str, tuple[Person, dict]] = field(default_factory=dict)  # key → (payer, body)
    answers: dict[str, list[tuple[int, str | None]]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter = field(default_factory=Counter)
    sent: int = 0

    def run(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._loop, daemon=True, name=f"payer-{n}") for n in range(WORKLOAD_THREADS)]
        for thread in threads:
            thread.start()
        return threads

    def _loop(self) -> None:
        rng = random.Random(self.rng.random())
        unanswered = None  # a client whose request got no verdict retries that same key, as it should
        while not self.stop.is_set():
            with self.lock:
                retry = unanswered or (self.requests and rng.random() < RETRY_SHARE)
                key = unanswered or (rng.choice(list(self.requests)) if retry else str(uuid.uuid4()))
            if retry:
                payer, body = self.requests[key]
            else:
                payer, payee = rng.sample(self.people, 2)
                # Amounts up to half a starting balance: a drained wallet keeps getting refused (422).
                body = {"from_wallet_id": payer.wallet_id, "to_wallet_id": payee.wallet_id,
                        "amount": f"{rng.randint(1, 3000) / 100:.2f}"}  # fmt: skip
                with self.lock:
                    self.requests[key] = (payer, body)
            unanswered = None if self.send(key, payer, body) in DECISIVE else key
            if unanswered:
                self.stop.wait(0.2)  # the client's retry backoff while the system is down, not a test wait

    def send(self, key: str, payer: Person, body: dict) -> int:
        try:
            response = payer.post("/transfers", body, key=key)
            status, transaction_id = response.status_code, _transaction_id(response)
        except httpx.HTTPError:
            status, transaction_id = 0, None  # no answer at all: the gateway was down or too slow
        with self.lock:
            self.answers[key].append((status, transaction_id))
            self.statuses[status] += 1
            self.sent += 1
        return status

    def progressed(self, requests: int) -> Callable[[], bool]:
        target = self.sent + requests
        return lambda: self.sent >= target

    def settle(self, timeout: float) -> None:
        """Retry every key whose last answer was not decisive, with its own body, until it is."""
        deadline = time.monotonic() + timeout
        while unsettled := [k for k, a in self.answers.items() if a[-1][0] not in DECISIVE]:
            assert time.monotonic() < deadline, f"{len(unsettled)} requests never got a decisive answer"
            with ThreadPoolExecutor(max_workers=WORKLOAD_THREADS) as pool:
                list(pool.map(lambda key: self.send(key, *self.requests[key]), unsettled))

    def key_violations(self) -> list[str]:
        """A key must name one transaction, whatever number of times it was sent."""
        found = []
        for key, answers in self.answers.items():
            ids = {tid for status, tid in answers if status in DECISIVE and tid}
            if len(ids) > 1:
                found.append(f"idempotency key {key} answered with transactions {sorted(ids)}")
        return found


def _transaction_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    return body.get("id") or (body.get("transaction") or {}).get("id")


@dataclass
class Fault:
    name: str
    inject: Callable[[Stack, Workload], None]
    victims: int = 1


def kill(stack: Stack, *names: str) -> None:
    pids = stack.supervisor.pids()
    for name in names:
        os.kill(pids[name], signal.SIGKILL)


def restarted(stack: Stack, name: str, old_pid: int) -> Callable[[], bool]:
    return lambda: stack.supervisor.pids().get(name, old_pid) != old_pid


def kill_and_wait_restart(stack: Stack, *names: str) -> None:
    before = stack.supervisor.pids()
    kill(stack, *names)
    for name in names:
        wait_until(restarted(stack, name, before[name]), timeout=30, message=f"{name} restarted")


def broker_restart(stack: Stack, _workload: Workload) -> None:
    """SIGKILL the broker; the supervisor restarts it and its restart hook re-creates the topics."""
    kill_and_wait_restart(stack, "infra-broker")
    infra.wait_for_port(stack.config.broker_port)


def postgres_restart(stack: Stack, _workload: Workload) -> None:
    """Fast shutdown (SIGINT) of the postmaster: every connection of every process breaks."""
    before = stack.supervisor.pid("infra-postgres")
    os.kill(before, signal.SIGINT)
    wait_until(restarted(stack, "infra-postgres", before), timeout=60, message="postgres restarted")
    infra.wait_for_postgres(stack.config.postgres_port, timeout=60)


def wallet_stops_answering(stack: Stack, workload: Workload) -> None:
    """The wallet takes reserve calls and answers none until the workload has seen a few give up."""
    wallet_web = stack.supervisor.pid("wallet-web")
    os.killpg(wallet_web, signal.SIGSTOP)
    try:
        wait_until(workload.progressed(3), timeout=60, message="requests answered while the wallet hangs")
    finally:
        os.killpg(wallet_web, signal.SIGCONT)


FAULTS = [
    Fault("kill -9 every relay", lambda s, _w: kill_and_wait_restart(s, *RELAYS), len(RELAYS)),
    Fault("kill -9 every consumer", lambda s, _w: kill_and_wait_restart(s, *CONSUMERS), len(CONSUMERS)),
    Fault(
        "kill -9 sweeper + wallet web", lambda s, _w: kill_and_wait_restart(s, "transaction-sweeper", "wallet-web"), 2
    ),
    Fault("kill -9 gateway web", lambda s, _w: kill_and_wait_restart(s, "gateway-web")),
    Fault("broker restart (memory lost)", broker_restart),
    Fault("PostgreSQL restart", postgres_restart),
    Fault("wallet reserve times out (SIGSTOP)", wallet_stops_answering),
]


def deposit_succeeds(probe: Person) -> Callable[[], bool]:
    """A fresh deposit reaches SUCCESS: the whole saga works again (its key retried until accepted)."""
    key = str(uuid.uuid4())

    def check() -> bool:
        try:
            response = probe.deposit("1", key=key)
            if response.status_code != 202:
                return False
            return probe.wait_final(response.json()["id"], timeout=60)["status"] == "SUCCESS"
        except (httpx.HTTPError, AssertionError):
            return False

    return check


@pytest.fixture
def crowd(gateway_url) -> list[Person]:
    people = [Person.sign_up(gateway_url, prefix="chaos") for _ in range(PEOPLE)]
    for person in people:
        person.fund(START_FUNDS)
    return people


def test_faults_under_load_break_no_invariant(stack, gateway_url, crowd):
    rng = random.Random()
    print(f"\n[chaos] seed {rng.random()!r}")
    probe = Person.sign_up(gateway_url, prefix="probe")
    workload = Workload(people=crowd, rng=rng)
    threads = workload.run()
    rows = []
    try:
        for fault in rng.sample(FAULTS, len(FAULTS)):
            # "At a random time": after a random number of further requests of the workload.
            wait_until(workload.progressed(rng.randint(5, 30)), timeout=120, message="workload progressing")
            injected = time.monotonic()
            fault.inject(stack, workload)
            wait_until(deposit_succeeds(probe), timeout=150, interval=0.2, message=f"recovery after {fault.name}")
            rows.append((fault.name, fault.victims, time.monotonic() - injected))
    finally:
        workload.stop.set()
        for thread in threads:
            thread.join(timeout=120)

    workload.settle(timeout=120)
    settled_at = time.monotonic()
    invariants.wait_quiet(stack, timeout=150)
    wait_until(lambda: invariants.history_complete(stack), timeout=90, message="history caught up")
    quiet_after = time.monotonic() - settled_at
    found = invariants.violations(stack) + workload.key_violations() + _keys_unique(stack)
    _print_table(stack, rows, workload, found, quiet_after)
    assert found == []
    assert workload.statuses[202] > 0 and workload.statuses[422] > 0, workload.statuses  # both paths exercised


def _keys_unique(stack: Stack) -> list[str]:
    rows = invariants.query(
        stack, "transaction",
        "SELECT owner_id, idempotency_key, count(*) FROM transaction WHERE idempotency_key IS NOT NULL"
        " GROUP BY owner_id, idempotency_key HAVING count(*) > 1",
    )  # fmt: skip
    return [f"key {key} of user {owner} has {count} transactions" for owner, key, count in rows]


def _print_table(stack: Stack, rows, workload: Workload, found: list[str], quiet_after: float) -> None:
    transactions = invariants.query(stack, "transaction", "SELECT status, count(*) FROM transaction GROUP BY status")
    lines = ["", "[chaos] fault                               victims  recovered in"]
    lines += [f"[chaos] {name:<36} {victims:>7}  {seconds:8.1f} s" for name, victims, seconds in rows]
    lines.append(f"[chaos] faults injected: {len(rows)} ({sum(v for _n, v, _s in rows)} processes/servers hit)")
    lines.append(f"[chaos] requests sent: {workload.sent}, distinct keys: {len(workload.requests)}, "
                 f"answers: {dict(sorted(workload.statuses.items()))} (0 = no answer)")  # fmt: skip
    lines.append(f"[chaos] transactions by status: {dict(transactions)}")
    lines.append(f"[chaos] quiet {quiet_after:.1f} s after the last request settled")
    lines.append(f"[chaos] invariant violations: {len(found)}")
    lines += [f"[chaos]   {violation}" for violation in found[:20]]
    print("\n".join(lines), flush=True)
