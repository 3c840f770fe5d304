"""The load: users on the public REST API and their websockets, driven closed-loop or open-loop.

One asyncio loop, one pooled keep-alive ``httpx.AsyncClient``. Every request is recorded as a
``Result``; every final status pushed on a websocket is recorded once per transaction id (the
sender and the receiver are both told; the first one counts), so "202 → final" is measured the
way a user sees it.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from websockets.asyncio.client import connect as ws_connect

PASSWORD = "bench-correct-horse-battery-42"
FINAL = ("SUCCESS", "FAILED")
OVERDRAFT_AMOUNT = "1000000000.0000"  # far above any funded balance → an intended 422


@dataclass
class User:
    username: str
    access: str = ""
    wallet_id: str = ""

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.access}"}


@dataclass
class Result:
    kind: str  # transfer | overdraft | history | balance | deposit
    started: float  # monotonic
    latency: float  # seconds
    status: int  # HTTP status, 0 for a transport error
    code: str | None = None
    transaction_id: str | None = None
    user: User | None = field(default=None, repr=False)


@dataclass
class Mix:
    transfer: float = 0.70
    history: float = 0.15
    balance: float = 0.15
    overdraft_share: float = 0.05  # of transfers
    min_amount_cents: int = 1
    max_amount_cents: int = 500

    def pick(self, rng: random.Random) -> str:
        roll = rng.random()
        if roll < self.transfer:
            return "overdraft" if rng.random() < self.overdraft_share else "transfer"
        return "history" if roll < self.transfer + self.history else "balance"


@dataclass
class Recorder:
    results: list[Result] = field(default_factory=list)
    finals: dict[str, tuple[float, str]] = field(default_factory=dict)  # tx id → (monotonic, status)
    accepted: dict[str, float] = field(default_factory=dict)  # tx id → monotonic of the 202
    ws_messages: int = 0
    ws_errors: int = 0
    ws_missed: int = 0  # final when polled but never pushed on a websocket

    def final_seen(self, transaction: dict) -> None:
        self.ws_messages += 1
        if transaction.get("status") in FINAL and transaction["id"] not in self.finals:
            self.finals[transaction["id"]] = (time.monotonic(), transaction["status"])


class Workload:
    def __init__(self, gateway_url: str, *, connections: int = 64, seed: int = 1) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.client = httpx.AsyncClient(
            base_url=self.gateway_url + "/api/v1",
            timeout=30,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )
        self.users: list[User] = []
        self.recorder = Recorder()
        self.rng = random.Random(seed)
        self._sockets: list[asyncio.Task] = []

    async def close(self) -> None:
        for task in self._sockets:
            task.cancel()
        await asyncio.gather(*self._sockets, return_exceptions=True)
        await self.client.aclose()

    # ---- setup -------------------------------------------------------------------------------

    async def users_create(self, count: int, *, parallel: int = 2) -> None:
        """Register and log in ``count`` users (password hashing is the slow part: a few at a time)."""
        prefix = f"bench{uuid.uuid4().hex[:6]}"
        gate = asyncio.Semaphore(parallel)

        async def one(index: int) -> User:
            async with gate:
                user = User(username=f"{prefix}u{index}")
                body = {"username": user.username, "email": f"{user.username}@example.com", "password": PASSWORD}
                response = await self.client.post("/auth/register", json=body)
                _expect(response, 201)
                response = await self.client.post("/auth/token", json={"username": user.username, "password": PASSWORD})
                _expect(response, 200)
                user.access = response.json()["access"]
                response = await self.client.get("/wallets", headers=user.headers)
                _expect(response, 200)
                wallets = response.json()
                user.wallet_id = (wallets["results"] if isinstance(wallets, dict) else wallets)[0]["id"]
                return user

        self.users = list(await asyncio.gather(*(one(i) for i in range(count))))

    async def sockets_open(self) -> None:
        """One websocket per user, authenticated by its first message; waits for every auth.ok."""
        ready = [asyncio.get_running_loop().create_future() for _ in self.users]
        self._sockets = [asyncio.create_task(self._socket(u, f)) for u, f in zip(self.users, ready, strict=True)]
        await asyncio.wait_for(asyncio.gather(*ready), timeout=60)

    async def _socket(self, user: User, ready: asyncio.Future) -> None:
        url = self.gateway_url.replace("http", "ws", 1) + "/ws/transactions/"
        while True:
            try:
                async with ws_connect(url, additional_headers={"Origin": self.gateway_url}) as socket:
                    await socket.send(json.dumps({"type": "auth", "token": user.access}))
                    async for raw in socket:
                        message = json.loads(raw)
                        if message.get("type") == "auth.ok" and not ready.done():
                            ready.set_result(True)
                        elif message.get("type") == "transaction.status":
                            self.recorder.final_seen(message["transaction"])
            except asyncio.CancelledError:
                raise
            except Exception:  # a dropped socket is counted and reopened; missed pushes are polled later
                self.recorder.ws_errors += 1
                await asyncio.sleep(0.5)

    async def fund(self, amount: str) -> None:
        """Deposit ``amount`` into every user's wallet and wait until every deposit is SUCCESS."""
        gate = asyncio.Semaphore(4)

        async def one(user: User) -> Result:
            # A 503 means the movement did not start (API.md): retry with the same key, a few at a time.
            key = str(uuid.uuid4())
            async with gate:
                for _attempt in range(10):
                    result = await self._money_post(user, "deposit", amount=amount, key=key)
                    if result.status != 503:
                        break
                    await asyncio.sleep(1)
            return result

        results = await asyncio.gather(*(one(u) for u in self.users))
        ids = [r.transaction_id for r in results]
        if any(r.status != 202 for r in results):
            raise RuntimeError(f"funding failed: {sorted({(r.status, r.code) for r in results})}")
        missing = await self.finals_wait(ids, timeout=120)
        if missing:
            raise RuntimeError(f"{len(missing)} deposits never finished")
        failed = [i for i in ids if self.recorder.finals[i][1] != "SUCCESS"]
        if failed:
            raise RuntimeError(f"{len(failed)} deposits FAILED")

    async def finals_wait(self, ids: list[str], *, timeout: float) -> list[str]:
        """Wait for the websocket to report every id final; then poll the rest once. Returns the unfinished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(i not in self.recorder.finals for i in ids):
            await asyncio.sleep(0.1)
        return await self._poll_unfinished([i for i in ids if i not in self.recorder.finals])

    async def _poll_unfinished(self, ids: list[str]) -> list[str]:
        wanted = set(ids)
        owner = {r.transaction_id: r.user for r in self.recorder.results if r.transaction_id in wanted}
        unfinished = []
        for tid in ids:
            user = owner.get(tid) or self.users[0]
            response = await self.client.get(f"/transactions/{tid}", headers=user.headers)
            body = response.json() if response.status_code == 200 else {}
            status = body.get("status")
            if status in FINAL:
                # final but never pushed: its time is the server's updated_at (on this machine's clock),
                # not the moment we polled; flagged in the report
                updated = datetime.fromisoformat(body["updated_at"].replace("Z", "+00:00")).timestamp()
                self.recorder.finals.setdefault(tid, (updated - time.time() + time.monotonic(), status))
                self.recorder.ws_missed += 1
            else:
                unfinished.append(tid)
        return unfinished

    # ---- one operation ------------------------------------------------------------------------

    async def operation(self, kind: str, started: float | None = None) -> Result:
        user = self.rng.choice(self.users)
        if kind in ("transfer", "overdraft"):
            other = self.rng.choice(self.users)
            while other is user:
                other = self.rng.choice(self.users)
            if kind == "overdraft":
                amount = OVERDRAFT_AMOUNT
            else:
                amount = f"{self.rng.randint(1, 500) / 100:.2f}"
            return await self._money_post(user, kind, amount=amount, to_wallet_id=other.wallet_id, started=started)
        path = f"/wallets/{user.wallet_id}/history" if kind == "history" else f"/wallets/{user.wallet_id}"
        params = {"limit": 20} if kind == "history" else None
        return await self._request(kind, "GET", path, user, params=params, started=started)

    async def _money_post(
        self, user: User, kind: str, *, amount: str, to_wallet_id=None, started=None, key=None
    ) -> Result:
        if kind == "deposit":
            path, body = f"/wallets/{user.wallet_id}/deposits", {"amount": amount}
        else:
            path, body = (
                "/transfers",
                {"from_wallet_id": user.wallet_id, "to_wallet_id": to_wallet_id, "amount": amount},
            )
        headers = {**user.headers, "Idempotency-Key": key or str(uuid.uuid4())}
        return await self._request(kind, "POST", path, user, json=body, headers=headers, started=started)

    async def _request(self, kind, method, path, user, *, headers=None, started=None, **kwargs) -> Result:
        started = time.monotonic() if started is None else started
        try:
            response = await self.client.request(method, path, headers=headers or user.headers, **kwargs)
        except httpx.HTTPError as exc:
            result = Result(kind, started, time.monotonic() - started, 0, code=type(exc).__name__)
        else:
            ended = time.monotonic()
            code, tid = None, None
            try:
                body = response.json()
            except ValueError:
                body = {}
            if response.status_code >= 400 and isinstance(body, dict):
                code = body.get("code")
            if response.status_code == 202:
                tid = body["id"]
                self.recorder.accepted[tid] = ended
            result = Result(kind, started, ended - started, response.status_code, code=code, transaction_id=tid)
        result.user = user
        self.recorder.results.append(result)
        return result

    # ---- drivers --------------------------------------------------------------------------------

    async def closed_loop(self, mix: Mix, *, clients: int, duration: float) -> tuple[float, float]:
        """``clients`` concurrent users, each sending its next request as soon as the last one answers."""
        start = time.monotonic()
        end = start + duration

        async def client() -> None:
            while time.monotonic() < end:
                await self.operation(mix.pick(self.rng))

        await asyncio.gather(*(client() for _ in range(clients)))
        return start, time.monotonic()

    async def open_loop(
        self, mix: Mix, *, transfers_per_second: float, duration: float, max_in_flight: int = 1000
    ) -> tuple[float, float, int]:
        """Requests arrive on a fixed schedule whatever the answers: transfers at the given rate and the
        reads in proportion. Latency counts from the scheduled time (no coordinated omission)."""
        rate = transfers_per_second / mix.transfer
        start = time.monotonic()
        tasks: set[asyncio.Task] = set()
        shed = 0
        sent = 0
        while (now := time.monotonic()) < start + duration:
            due = start + sent / rate
            if due > now:
                await asyncio.sleep(due - now)
                continue
            if len(tasks) >= max_in_flight:
                shed += 1  # the system fell this far behind: recorded, not queued without bound
            else:
                task = asyncio.create_task(self.operation(mix.pick(self.rng), started=due))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            sent += 1
        if tasks:
            await asyncio.gather(*tasks)
        return start, time.monotonic(), shed


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} → {response.status_code}: {response.text}"
        )
