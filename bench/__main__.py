"""``python -m bench``: start a stack (or use ``BENCH_GATEWAY_URL``), register and fund users, measure
the machine's ceiling with pgbench, then phases of mixed traffic: a closed loop, a search for the highest
sustained open-loop rate (stepping the rate up until it breaks), and an open loop at half that rate.
Results go to bench/results/<timestamp>/ (results.json, summary.md, timeline.png)."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import ceiling, report, soak, stackctl, statements, stats, steady
from bench.stats import LOAD_GENERATOR, stack_cpu_ms_per_transfer
from bench.workload import Mix, Workload

RESULTS = Path(__file__).resolve().parent / "results"
INTENDED = {("overdraft", 422, "insufficient_funds")}
# The stack's backpressure (transaction_service's SAGAS_IN_FLIGHT_MAX): counted apart, not as errors.
OVERLOADED = {(kind, 429, "overloaded") for kind in ("transfer", "overdraft")}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--clients", type=int, default=16, help="closed-loop concurrent clients")
    parser.add_argument("--duration", type=float, default=60, help="seconds per measured phase")
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--rate", type=float, default=None, help="open-loop transfers/s (default: half closed-loop)")
    parser.add_argument("--pgbench-seconds", type=int, default=20)
    parser.add_argument("--pgbench-clients", type=int, default=8)
    parser.add_argument("--no-pgbench", action="store_true")
    parser.add_argument("--phases", default="closed,search,open", help="any of closed, search, open (comma-separated)")
    parser.add_argument("--search-from", type=float, default=None, help="first searched rate (default: from closed)")
    parser.add_argument("--search-factor", type=float, default=1.25, help="rate multiplier per search step")
    parser.add_argument("--search-seconds", type=float, default=20, help="seconds per search step")
    parser.add_argument("--search-max", type=float, default=1000, help="stop searching above this rate")
    parser.add_argument("--ports", choices=("default", "free"), default="default")
    parser.add_argument("--data-dir", default=None, help="the own stack's data (default: a fresh dir under /tmp)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL"), help="server for pgbench")
    parser.add_argument("--out", default=None)
    parser.add_argument("--soak", action="store_true",
                        help="a long open loop at --rate (default: half the searched sustained rate), sampling "
                             "every process's RSS and CPU (bench/soak.py)")  # fmt: skip
    parser.add_argument("--soak-minutes", type=float, default=20)
    parser.add_argument("--sample-seconds", type=float, default=60, help="soak: seconds between samples")
    parser.add_argument(
        "--steady", action="store_true", help="own stack: pre-fill the big tables first (bench/steady.py)"
    )
    parser.add_argument("--steady-rows", type=int, default=1_000_000, help="rows in ledger_posting and history_entry")
    parser.add_argument("--steady-days", type=float, default=180, help="the pre-filled rows span this many days back")
    parser.add_argument("--steady-pairs", type=int, default=20, help="real round trips the pre-fill copies")
    args = parser.parse_args()
    if args.soak:
        args.phases = "soak" if args.rate else "search,soak"
    return args


def main() -> int:
    args = arguments()
    gateway_url = os.environ.get("BENCH_GATEWAY_URL")
    stack = None
    if gateway_url:
        stack_desc, pg_url = f"running stack at {gateway_url}", args.pg_url
    else:
        data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="wallet-bench-"))
        config = stackctl.stack_config(data_dir, ports=args.ports)
        stack = stackctl.Stack(config, echo=lambda *a: print(*a, file=sys.stderr))
        print(f"[bench] starting a stack in {data_dir} (gateway port {config.gateway_port})", file=sys.stderr)
        stack.start()
        gateway_url = config.url("gateway_web")
        stack_desc = f"own stack (walletkit.devstack, gateway :{config.gateway_port}, data {data_dir})"
        pg_url = args.pg_url or config.database_url("postgres")
    try:
        result = asyncio.run(run(args, gateway_url, stack, pg_url))
    finally:
        if stack is not None:
            stack.stop()
    result["stack"] = stack_desc
    folder = Path(args.out) if args.out else RESULTS / result["started_at"].replace(":", "-")
    report.write(folder, result)
    print(report.markdown(result))
    print(f"[bench] results in {folder}", file=sys.stderr)
    return 0


async def run(args, gateway_url: str, stack, pg_url: str | None) -> dict:
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    mix = Mix()
    workload = Workload(gateway_url, connections=max(64, args.clients * 2))
    roots = {LOAD_GENERATOR: os.getpid(), **(stackctl.process_roots(stack) if stack else {})}
    args.statements_url = pg_url  # each phase counts the statements of the stack's databases there
    result = {
        "started_at": started_at,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "config": {k: v for k, v in vars(args).items()} | {"mix": _mix_text(mix)},
        "phases": [],
    }
    progress = asyncio.create_task(_progress(workload))
    try:
        _say(f"registering {args.users} users")
        await workload.users_create(args.users)
        await workload.sockets_open()
        _say("funding every wallet")
        await workload.fund("10000.0000")
        if args.steady:
            if stack is None:
                raise SystemExit("--steady pre-fills the databases of its own stack: unset BENCH_GATEWAY_URL")
            result["steady"] = await _steady(workload, stack, args)
        if not args.no_pgbench and pg_url:
            _say(f"pgbench ceiling ({args.pgbench_clients} clients, {args.pgbench_seconds} s)")
            result["ceiling"] = await asyncio.to_thread(
                ceiling.pgbench_run, pg_url, clients=args.pgbench_clients, seconds=args.pgbench_seconds
            )
        tps = (result.get("ceiling") or {}).get("tps")
        if args.warmup:
            _say(f"warm-up {args.warmup:.0f} s")
            await workload.closed_loop(mix, clients=args.clients, duration=args.warmup)
            await _drain(workload)
        phases = args.phases.split(",")
        closed = None
        if "closed" in phases:
            _say(f"closed loop: {args.clients} clients for {args.duration:.0f} s")
            closed = await _phase(workload, roots, "closed-loop", tps, workload.closed_loop(
                mix, clients=args.clients, duration=args.duration), statements_url=args.statements_url)  # fmt: skip
            result["phases"].append(closed)
        if "search" in phases:
            result["search"] = await _search(workload, roots, tps, mix, args, closed)
        if "open" in phases:
            sustained = (result.get("search") or {}).get("sustained_per_s")
            rate = args.rate or (sustained / 2 if sustained else closed["completed_per_s"] / 2 if closed else 50.0)
            _say(f"open loop: {rate:.1f} transfers/s for {args.duration:.0f} s")
            opened = await _phase(workload, roots, "open-loop", tps, workload.open_loop(
                mix, transfers_per_second=rate, duration=args.duration), offered=rate,
                statements_url=args.statements_url)  # fmt: skip
            result["phases"].append(opened)
        if "soak" in phases:
            sustained = (result.get("search") or {}).get("sustained_per_s")
            rate = args.rate or (sustained / 2 if sustained else 10.0)
            result["soak"] = await _soak(workload, roots, tps, mix, rate, args)
            result["phases"].append(result["soak"].pop("phase"))
    finally:
        progress.cancel()
        await workload.close()
    result["targets"] = _targets(result)
    return result


async def _search(workload: Workload, roots, tps, mix: Mix, args, closed: dict | None) -> dict:
    """Step the open-loop rate up by ``--search-factor`` until a step is not sustained (see _sustained);
    the last sustained step's rate is the system's sustained throughput."""
    rate = args.search_from or max(2.0, round((closed["completed_per_s"] if closed else 10.0) * 0.5, 1))
    steps, best = [], None
    while rate <= args.search_max:
        _say(f"search: {rate:.1f} transfers/s for {args.search_seconds:.0f} s")
        step = await _phase(workload, roots, f"search {rate:.1f}/s", tps, workload.open_loop(
            mix, transfers_per_second=rate, duration=args.search_seconds), offered=rate,
            statements_url=args.statements_url)  # fmt: skip
        step.pop("series")
        step["sustained"] = _sustained(step, overdraft_share=mix.overdraft_share)
        steps.append(step)
        if not step["sustained"]:
            break
        best = step
        rate = round(rate * args.search_factor, 1)
    return {
        "steps": steps,
        "sustained_per_s": best["offered_transfers_per_s"] if best else None,
        "ratio_to_pgbench": round(best["offered_transfers_per_s"] / tps, 4) if best and tps else None,
        "at_sustained": best,
    }


async def _steady(workload: Workload, stack, args) -> dict:
    """Real round trips through the API (A pays B, B pays A), then their rows copied in SQL until the
    big tables hold --steady-rows (bench/steady.py)."""
    _say(f"steady state: {args.steady_pairs} round trips, then pre-filling {args.steady_rows:,} rows")
    users, ids = workload.users, []
    for index in range(args.steady_pairs):
        first, second = users[index % len(users)], users[(index + 1) % len(users)]
        for payer, payee in ((first, second), (second, first)):
            sent = await workload._money_post(payer, "transfer", amount="1.00", to_wallet_id=payee.wallet_id)
            unfinished = await workload.finals_wait([sent.transaction_id], timeout=60) if sent.status == 202 else [0]
            if unfinished or workload.recorder.finals[sent.transaction_id][1] != "SUCCESS":
                raise RuntimeError(f"a pre-fill round trip did not succeed: {sent.status} {sent.code}")
            ids.append(sent.transaction_id)
    copies = steady.copies_for(rows=args.steady_rows, transaction_ids=ids)
    urls = {name: stack.config.database_url(name) for name in {*steady.CLONES, *steady.DELIVERY_DATABASES}}
    filled = await asyncio.to_thread(steady.prefill, database_urls=urls, transaction_ids=ids, copies=copies,
                                     days=args.steady_days)  # fmt: skip
    _say(f"pre-filled in {filled['seconds']:.0f} s: {filled['rows']}")
    return filled


async def _soak(workload: Workload, roots, tps, mix: Mix, rate: float, args) -> dict:
    """The open loop for --soak-minutes while every process is sampled (bench/soak.py)."""
    minutes = args.soak_minutes
    _say(f"soak: {rate:.1f} transfers/s for {minutes:g} min, a sample every {args.sample_seconds:g} s")
    stop = asyncio.Event()
    sampler = asyncio.create_task(soak.sample_until(roots, every=args.sample_seconds, stop=stop))
    started = time.monotonic()
    phase = await _phase(workload, roots, "soak", tps, workload.open_loop(
        mix, transfers_per_second=rate, duration=minutes * 60), offered=rate,
        statements_url=args.statements_url)  # fmt: skip
    stop.set()
    samples = await sampler
    recorder = workload.recorder
    return {
        "phase": phase,
        "rate_per_s": rate,
        "minutes": minutes,
        "samples": samples,
        "rss_trend": soak.rss_trend(samples),
        "p99_ms_per_minute": soak.p99_per_minute(recorder.accepted, recorder.finals, started, started + minutes * 60),
    }


def _sustained(step: dict, *, overdraft_share: float) -> bool:
    """Completed keeps up with offered (less the deliberate overdrafts, refused by design), nothing is left
    unfinished or refused for overload, every error is an intended one, and a user waits at most a second
    for the final status (p99)."""
    p99 = step["accepted_to_final"]["p99_ms"]
    return (
        # 10 % slack: a 20 s step of a random mix carries about that much sampling noise at these rates.
        step["completed_per_s"] >= 0.9 * step["offered_transfers_per_s"] * (1 - overdraft_share)
        and step["unfinished"] == 0
        and not step["unexpected_errors"]
        and not step["shed"]
        and not step["refused_overloaded"]
        and p99 is not None
        and p99 <= 1000
    )


async def _phase(workload: Workload, roots, name: str, tps, driver, offered=None, statements_url=None) -> dict:
    recorder = workload.recorder
    first_result = len(recorder.results)
    ws_missed, ws_errors = recorder.ws_missed, recorder.ws_errors
    counting = bool(statements_url) and await asyncio.to_thread(statements.reset, statements_url)
    cpu_before, machine_before = stats.cpu_by_group(roots), stats.machine_cpu()
    outcome = await driver
    start, end = outcome[0], outcome[1]
    cpu_after, machine_after = stats.cpu_by_group(roots), stats.machine_cpu()
    calls, frequent = await asyncio.to_thread(statements.counted, statements_url) if counting else ({}, {})
    results = recorder.results[first_result:]
    accepted_ids = [r.transaction_id for r in results if r.status == 202]
    unfinished = await _drain(workload, accepted_ids)
    duration = end - start
    finals_in_window = [t for t, _status in recorder.finals.values() if start <= t < end]
    to_final = [
        (recorder.finals[tid][0], max(0.0, recorder.finals[tid][0] - recorder.accepted[tid]))
        for tid in accepted_ids
        if tid in recorder.finals
    ]
    kinds = sorted({r.kind for r in results})
    unexpected = {}
    responses: dict[str, int] = {}
    for r in results:
        responses[str(r.status)] = responses.get(str(r.status), 0) + 1
        if (r.status >= 400 or r.status == 0) and (r.kind, r.status, r.code) not in INTENDED | OVERLOADED:
            key = f"{r.kind} {r.status} {r.code or ''}".strip()
            unexpected[key] = unexpected.get(key, 0) + 1
        if r.kind == "overdraft" and r.status == 202:
            unexpected["overdraft accepted"] = unexpected.get("overdraft accepted", 0) + 1
    statuses = {}
    for tid in accepted_ids:
        status = recorder.finals.get(tid, (0, "UNFINISHED"))[1]
        statuses[status] = statuses.get(status, 0) + 1
    completed_per_s = len(finals_in_window) / duration
    overdrafts_refused = sum(1 for r in results if (r.kind, r.status, r.code) in INTENDED)
    overloaded = sum(1 for r in results if (r.kind, r.status, r.code) in OVERLOADED)
    machine_busy = (machine_after[0] - machine_before[0]) / duration  # cores busy, whatever the process
    cpu_cores = stats.cpu_delta(cpu_before, cpu_after, duration)
    cpu_cores["other processes on the machine"] = round(machine_busy - sum(cpu_cores.values()), 3)
    return {
        "name": name,
        "duration_s": duration,
        "offered_transfers_per_s": round(offered, 1) if offered else None,
        "requests": len(results),
        "requests_per_s": round(len(results) / duration, 1),
        "accepted": len(accepted_ids),
        "accepted_per_s": round(len(accepted_ids) / duration, 1),
        "completed_per_s": round(completed_per_s, 1),
        "ratio_to_pgbench": round(completed_per_s / tps, 4) if tps else None,
        "final_statuses": statuses,
        # The deliberate overdrafts end in 422 at the reservation: never counted as completed transfers.
        "overdrafts_refused": overdrafts_refused,
        "refused_overloaded": overloaded,
        "unfinished": len(unfinished),
        "accepted_to_final": stats.summary_ms([v for _t, v in to_final]),
        "api_latency": {
            **{kind: stats.summary_ms([r.latency for r in results if r.kind == kind]) for kind in kinds},
            "all": stats.summary_ms([r.latency for r in results]),
        },
        "responses": responses,
        "unexpected_errors": unexpected,
        "ws_missed": recorder.ws_missed - ws_missed,
        "ws_errors": recorder.ws_errors - ws_errors,
        "shed": outcome[2] if len(outcome) > 2 else 0,
        "machine_cores_busy": round(machine_busy, 3),
        "load_average": os.getloadavg(),
        "cpu_cores": cpu_cores,
        # Milliseconds of CPU each process spent per completed transfer (its reads included).
        "cpu_ms_per_transfer": {name: round(cores / completed_per_s * 1000, 2) for name, cores in cpu_cores.items()}
        if completed_per_s
        else {},
        # Statements each database ran per completed transfer (reads of the mix included), when counted.
        "statements_per_transfer": {db: round(n / (completed_per_s * duration), 1) for db, n in calls.items()}
        if completed_per_s
        else {},
        "statements_most_frequent": frequent,  # database → [(calls, statement)], to see what a change removed
        "series": {
            "requests": stats.per_second([r.started for r in results], start, duration),
            "accepted": stats.per_second([recorder.accepted[t] for t in accepted_ids], start, duration),
            "completed": stats.per_second(finals_in_window, start, duration),
            "final_p50_ms": stats.per_second_percentile(to_final, start, duration, 50),
            "final_p99_ms": stats.per_second_percentile(to_final, start, duration, 99),
            "api_p99_ms": stats.per_second_percentile([(r.started, r.latency) for r in results], start, duration, 99),
        },
    }


async def _drain(workload: Workload, ids: list[str] | None = None) -> list[str]:
    """Let in-flight sagas finish before the next phase (so phases do not bleed into each other)."""
    if ids is None:
        ids = [tid for tid in workload.recorder.accepted if tid not in workload.recorder.finals]
    return await workload.finals_wait(ids, timeout=30)


def _targets(result: dict) -> dict:
    """The issue's targets: a sustained rate ≥ 0.05 × pgbench (moonshot 0.08); at half of it p99 202→final
    ≤ 250 ms and API p99 ≤ 50 ms; ≤ 15 ms of the stack's CPU per completed transfer."""
    tps = (result.get("ceiling") or {}).get("tps")
    targets = {}
    search = result.get("search") or {}
    sustained, at_sustained = search.get("sustained_per_s"), search.get("at_sustained")
    if search and tps:
        ratio = search.get("ratio_to_pgbench") or 0
        targets["sustained rate ≥ 0.05 × pgbench tps"] = {
            "value": f"{sustained} /s = {ratio} × {tps}",
            "target": f"≥ {0.05 * tps:.1f} /s (moonshot 0.08: {0.08 * tps:.1f} /s)",
            "met": ratio >= 0.05,
        }
    if at_sustained:
        cpu = stack_cpu_ms_per_transfer(at_sustained)
        targets["stack CPU per completed transfer (at the sustained rate)"] = {
            "value": f"{cpu} ms",
            "target": "≤ 15 ms",
            "met": cpu is not None and cpu <= 15,
        }
    opened = next((p for p in result["phases"] if p["name"] == "open-loop"), None)
    if opened:
        p99 = opened["accepted_to_final"]["p99_ms"]
        api = opened["api_latency"]["all"]["p99_ms"]
        half = f" at {opened['offered_transfers_per_s']}/s" + (" (half the sustained rate)" if sustained else "")
        targets["open-loop p99 202→final" + half] = {
            "value": f"{p99} ms",
            "target": "≤ 250 ms",
            "met": p99 is not None and p99 <= 250,
        }
        targets["open-loop API p99 (all requests)" + half] = {
            "value": f"{api} ms",
            "target": "≤ 50 ms",
            "met": api is not None and api <= 50,
        }
    return targets


async def _progress(workload: Workload) -> None:
    recorder = workload.recorder
    last = (time.monotonic(), 0, 0, 0)
    while True:
        await asyncio.sleep(2)
        now = time.monotonic()
        requests, accepted, finals = len(recorder.results), len(recorder.accepted), len(recorder.finals)
        span = now - last[0]
        in_flight = accepted - sum(1 for t in recorder.accepted if t in recorder.finals)
        print(
            f"\r[bench] {(requests - last[1]) / span:7.1f} req/s  {(accepted - last[2]) / span:6.1f} 202/s  "
            f"{(finals - last[3]) / span:6.1f} final/s  sagas in flight {in_flight:5d}  ws errors {recorder.ws_errors}",
            end="",
            file=sys.stderr,
            flush=True,
        )
        last = (now, requests, accepted, finals)


def _say(text: str) -> None:
    print(f"\n[bench] {text}", file=sys.stderr, flush=True)


def _mix_text(mix: Mix) -> str:
    return (
        f"{mix.transfer:.0%} transfers ({mix.overdraft_share:.0%} of them overdrafts → 422), "
        f"{mix.history:.0%} history reads, {mix.balance:.0%} balance reads"
    )


if __name__ == "__main__":
    sys.exit(main())
