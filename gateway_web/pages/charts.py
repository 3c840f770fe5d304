"""Small server-rendered charts (inline SVG, no script): a wallet's balance over time from its
history, and reconciliation findings per run. Only numbers are computed here; the templates draw."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT, PAD = 240, 60, 4


@dataclass
class Sparkline:
    points: str  # the polyline's "x,y x,y ..." in a WIDTH x HEIGHT box
    low: Decimal
    high: Decimal
    count: int
    width: int = WIDTH
    height: int = HEIGHT


def balance_series(*, entries: list[dict], balance: Decimal) -> list[Decimal]:
    """Balances oldest → newest, ending at ``balance``: each settled entry undone in turn from the
    newest (entries come newest first). Pending and failed entries never moved the balance."""
    series = [balance]
    for entry in entries:
        if entry.get("status") != "SUCCESS":
            continue
        amount = Decimal(entry["amount"])
        balance = balance - amount if entry["direction"] == "CREDIT" else balance + amount
        series.append(balance)
    return list(reversed(series))


def sparkline(values: list[Decimal]) -> Sparkline | None:
    if len(values) < 2:
        return None
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    step = (WIDTH - 2 * PAD) / (len(values) - 1)
    coords = []
    for index, value in enumerate(values):
        x = PAD + index * step
        y = PAD + float((high - value) / span) * (HEIGHT - 2 * PAD)
        coords.append(f"{x:.1f},{y:.1f}")
    return Sparkline(points=" ".join(coords), low=low, high=high, count=len(values))


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    critical: int
    critical_y: float
    critical_height: float


def findings_bars(runs: list[dict], *, width: int = 600, height: int = 120) -> list[Bar]:
    """One bar per run, oldest on the left; its lower, darker part is the critical findings."""
    runs = list(reversed(runs))
    if not runs:
        return []
    top = max((r.get("counts") or {}).get("findings", 0) for r in runs) or 1
    slot = width / len(runs)
    bars = []
    for index, run in enumerate(runs):
        counts = run.get("counts") or {}
        findings, critical = counts.get("findings", 0), counts.get("critical", 0)
        bar_height = (height - 16) * findings / top
        critical_height = (height - 16) * critical / top
        bars.append(
            Bar(
                x=index * slot + slot * 0.15, y=height - bar_height, width=slot * 0.7, height=bar_height,
                label=f"run {run['id']}: {findings} findings ({critical} critical)", value=findings,
                critical=critical, critical_y=height - critical_height, critical_height=critical_height,
            )
        )  # fmt: skip
    return bars
