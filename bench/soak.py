"""The soak (``python -m bench --soak``): a long open loop at a steady rate, sampling every process's
memory (RSS) and CPU once a sample period, the final-status p99 per minute, and each process's RSS
trend projected over a month — a leak shows as a slope, not as a crash at minute 19."""

from __future__ import annotations

import asyncio
import os
import time
from collections import defaultdict
from pathlib import Path

from bench import stats

PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 1024 / 1024
MONTH_HOURS = 30 * 24


def _rss_table() -> dict[int, tuple[int, float]]:
    """pid → (parent pid, resident MB) for every process we can read."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            resident_pages = int((entry / "statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        table[int(entry.name)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), resident_pages * PAGE_MB)
    return table


def rss_by_group(roots: dict[str, int]) -> dict[str, float]:
    """Resident MB of each named root process and all its live descendants (PostgreSQL's backends,
    gunicorn's workers), the subtrees of other roots excluded."""
    table = _rss_table()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (ppid, _rss) in table.items():
        children[ppid].append(pid)
    root_pids = set(roots.values())
    totals = {}
    for name, root in roots.items():
        total, pending = 0.0, [root]
        while pending:
            pid = pending.pop()
            if pid in table:
                total += table[pid][1]
                pending.extend(child for child in children.get(pid, []) if child not in root_pids)
        totals[name] = round(total, 1)
    return totals


async def sample_until(roots: dict[str, int], *, every: float, stop: asyncio.Event) -> list[dict]:
    """One sample now and every ``every`` seconds until ``stop``: seconds since the start, RSS MB and
    CPU cores (used since the previous sample) per process group."""
    started = time.monotonic()
    samples: list[dict] = []
    cpu_before, at_before = stats.cpu_by_group(roots), started
    while True:
        now = time.monotonic()
        cpu_now = stats.cpu_by_group(roots)
        cores = stats.cpu_delta(cpu_before, cpu_now, now - at_before) if now > at_before else {}
        samples.append({"t_s": round(now - started, 1), "rss_mb": rss_by_group(roots), "cpu_cores": cores})
        cpu_before, at_before = cpu_now, now
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            continue
        return samples


def rss_trend(samples: list[dict]) -> dict[str, dict]:
    """Per group: least-squares RSS slope (MB/hour) and the RSS it would reach after a month at that
    slope. The first sample is left out (start-up: caches and connection pools still filling)."""
    steady = samples[1:] if len(samples) > 2 else samples
    trend = {}
    for name in steady[0]["rss_mb"] if steady else []:
        points = [(s["t_s"] / 3600, s["rss_mb"][name]) for s in steady if name in s["rss_mb"]]
        slope = _slope(points)
        last = points[-1][1]
        trend[name] = {
            "first_mb": points[0][1],
            "last_mb": last,
            "mb_per_hour": None if slope is None else round(slope, 2),
            "month_mb": None if slope is None else round(last + max(0.0, slope) * MONTH_HOURS, 0),
        }
    return trend


def _slope(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def p99_per_minute(accepted: dict[str, float], finals: dict[str, tuple[float, str]], start: float, end: float):
    """202 → final status p99 (ms) of the transfers accepted in each minute of [start, end)."""
    minutes: dict[int, list[float]] = defaultdict(list)
    for transaction_id, at in accepted.items():
        if start <= at < end and transaction_id in finals:
            minutes[int((at - start) // 60)].append(max(0.0, finals[transaction_id][0] - at))
    count = max(1, int((end - start + 59) // 60))
    return [None if not minutes.get(m) else round(stats.percentile(minutes[m], 99) * 1000, 1) for m in range(count)]
