"""Percentiles, per-second series and CPU accounting (from /proc) for the benchmark."""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary_ms(seconds: list[float]) -> dict:
    """count, p50/p95/p99/max in milliseconds."""
    to_ms = lambda v: None if v is None else round(v * 1000, 1)  # noqa: E731
    return {
        "count": len(seconds),
        "p50_ms": to_ms(percentile(seconds, 50)),
        "p95_ms": to_ms(percentile(seconds, 95)),
        "p99_ms": to_ms(percentile(seconds, 99)),
        "max_ms": to_ms(max(seconds) if seconds else None),
    }


def per_second(times: list[float], start: float, duration: float) -> list[int]:
    """How many of ``times`` fall in each whole second of [start, start + duration)."""
    buckets = [0] * max(1, int(math.ceil(duration)))
    for t in times:
        index = int(t - start)
        if 0 <= index < len(buckets):
            buckets[index] += 1
    return buckets


def per_second_percentile(samples: list[tuple[float, float]], start: float, duration: float, q: float) -> list:
    """The q-th percentile (ms) of the (time, value) samples falling in each second, None where empty."""
    groups: dict[int, list[float]] = defaultdict(list)
    for t, value in samples:
        groups[int(t - start)].append(value)
    result = []
    for index in range(max(1, int(math.ceil(duration)))):
        value = percentile(groups.get(index, []), q)
        result.append(None if value is None else round(value * 1000, 1))
    return result


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, CPU seconds) for every process we can read: its own user+system time plus
    that of its exited children it has reaped (cutime+cstime), so a subtree's total keeps the CPU of
    short-lived children (PostgreSQL backends of closed connections) instead of losing it."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry.name)] = (int(fields[1]), sum(int(value) for value in fields[11:15]) / CLOCK_TICKS)
    return table


def cpu_by_group(roots: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each named root process and all its live descendants."""
    table = _proc_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _cpu) in table.items():
        children[ppid].append(pid)
    totals: dict[str, float] = {}
    root_pids = set(roots.values())
    for name, root in roots.items():
        total, stack = 0.0, [root]
        while stack:
            pid = stack.pop()
            if pid in table:
                total += table[pid][1]
                # a root's subtree is its own: the load generator is the stack's parent, not its owner
                stack.extend(child for child in children.get(pid, []) if child not in root_pids)
        totals[name] = total
    return totals


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def cpu_delta(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    """Cores used per group over an interval (CPU seconds / wall seconds), largest first."""
    used = {name: (after.get(name, 0.0) - before.get(name, 0.0)) / seconds for name in after}
    return dict(sorted(((k, round(v, 3)) for k, v in used.items()), key=lambda kv: -kv[1]))


def errors_by_code(results) -> dict[str, int]:
    return dict(Counter(f"{r.kind} {r.status} {r.code or ''}".strip() for r in results if r.status >= 400))


LOAD_GENERATOR = "bench (load generator)"
NOT_THE_STACK = {LOAD_GENERATOR, "other processes on the machine"}


def stack_cpu_ms_per_transfer(phase: dict) -> float | None:
    """CPU of every process of the stack (the load generator and the neighbours excluded) per completed transfer."""
    per = phase.get("cpu_ms_per_transfer") or {}
    return round(sum(v for name, v in per.items() if name not in NOT_THE_STACK), 1) if per else None
