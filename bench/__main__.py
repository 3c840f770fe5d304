"""``python -m bench``: start a stack (or use ``BENCH_GATEWAY_URL``), register and fund users, measure
the machine's ceiling with pgbench, then a closed-loop and an open-loop phase of mixed traffic.
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

from bench import ceiling, report, stackctl, stats
from bench.workload import Mix, Workload

RESULTS = Path(__file__).resolve().parent / "results"
INTENDED = {("overdraft", 422, "insufficient_funds")}


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
    parser.add_argument("--phases", default="closed,open", help="closed, open or both")
    parser.add_argument("--ports", choices=("default", "free"), default="default")
    parser.add_argument("--data-dir", default=None, help="the own stack's data (default: a fresh dir under /tmp)")
    parser.add_argument("--pg-url", default=os.environ.get("BENCH_POSTGRES_URL"), help="server for pgbench")
    parser.add_argument("--out", default=None)
    return parser.parse_args()


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
    roots = {"bench (load generator)": os.getpid(), **(stackctl.process_roots(stack) if stack else {})}
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
                mix, clients=args.clients, duration=args.duration))  # fmt: skip
            result["phases"].append(closed)
        if "open" in phases:
            rate = args.rate or (closed["completed_per_s"] / 2 if closed else 50.0)
            _say(f"open loop: {rate:.1f} transfers/s for {args.duration:.0f} s")
            opened = await _phase(workload, roots, "open-loop", tps, workload.open_loop(
                mix, transfers_per_second=rate, duration=args.duration), offered=rate)  # fmt: skip
            result["phases"].append(opened)
    finally:
        progress.cancel()
        await workload.close()
    result["targets"] = _targets(result)
    return result


async def _phase(workload: Workload, roots, name: str, tps, driver, offered=None) -> dict:
    recorder = workload.recorder
    first_result = len(recorder.results)
    ws_missed, ws_errors = recorder.ws_missed, recorder.ws_errors
    cpu_before, machine_before = stats.cpu_by_group(roots), stats.machine_cpu()
    outcome = await driver
    start, end = outcome[0], outcome[1]
    cpu_after, machine_after = stats.cpu_by_group(roots), stats.machine_cpu()
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
        if (r.status >= 400 or r.status == 0) and (r.kind, r.status, r.code) not in INTENDED:
            key = f"{r.kind} {r.status} {r.code or ''}".strip()
            unexpected[key] = unexpected.get(key, 0) + 1
        if r.kind == "overdraft" and r.status == 202:
            unexpected["overdraft accepted"] = unexpected.get("overdraft accepted", 0) + 1
    statuses = {}
    for tid in accepted_ids:
        status = recorder.finals.get(tid, (0, "UNFINISHED"))[1]
        statuses[status] = statuses.get(status, 0) + 1
    completed_per_s = len(finals_in_window) / duration
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
    tps = (result.get("ceiling") or {}).get("tps")
    targets = {}
    phases = {p["name"]: p for p in result["phases"]}
    closed, opened = phases.get("closed-loop"), phases.get("open-loop")
    if closed and tps:
        targets["closed-loop completed/s ≥ 0.08 × pgbench tps"] = {
            "value": f"{closed['completed_per_s']} /s = {closed['ratio_to_pgbench']} × {tps}",
            "target": f"≥ {0.08 * tps:.1f} /s",
            "met": closed["ratio_to_pgbench"] >= 0.08 and not closed["unexpected_errors"] and not closed["unfinished"],
        }
    if opened:
        p99 = opened["accepted_to_final"]["p99_ms"]
        api = opened["api_latency"]["all"]["p99_ms"]
        targets["open-loop p99 202→final"] = {
            "value": f"{p99} ms",
            "target": "≤ 250 ms",
            "met": p99 is not None and p99 <= 250,
        }
        targets["open-loop API p99 (all requests)"] = {
            "value": f"{api} ms",
            "target": "≤ 100 ms",
            "met": api is not None and api <= 100,
        }
        if tps:
            targets["open-loop rate vs half the throughput target"] = {
                "value": f"{opened['offered_transfers_per_s']} transfers/s offered",
                "target": f"{0.04 * tps:.1f} /s (0.04 × pgbench)",
                "met": (opened["offered_transfers_per_s"] or 0) >= 0.04 * tps,
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
