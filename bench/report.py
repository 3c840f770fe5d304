"""The run's results as JSON, a markdown summary and a PNG plot, under bench/results/<timestamp>/."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

from bench.stats import NOT_THE_STACK, stack_cpu_ms_per_transfer

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def write(folder: Path, report: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(report, indent=1, default=str))
    (folder / "summary.md").write_text(markdown(report))
    plot(folder / "timeline.png", report)
    if report.get("soak"):
        soak_plot(folder / "soak.png", report["soak"])


def _fmt(value, unit="") -> str:
    return "–" if value is None else f"{value:g}{unit}"


def markdown(report: dict) -> str:
    ceiling = report.get("ceiling") or {}
    lines = [
        f"# Benchmark {report['started_at']}",
        "",
        f"Machine: {report['machine']['cpus']} CPUs, {report['machine']['python']}; stack: {report['stack']}; "
        f"{report['config']['users']} users, mix {report['config']['mix']}.",
        "",
        f"Ceiling: pgbench (TPC-B-like, {ceiling.get('clients')} clients, {ceiling.get('seconds')} s) "
        f"**{_fmt(ceiling.get('tps'))} tps**.",
        "",
        "| phase | duration s | offered transfers/s | accepted/s (202) | completed/s (final) | completed / pgbench tps "
        "| 202→final p50/p95/p99 ms | unfinished | unexpected errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in report["phases"]:
        final = phase["accepted_to_final"]
        lines.append(
            f"| {phase['name']} | {phase['duration_s']:.0f} | {_fmt(phase.get('offered_transfers_per_s'))} "
            f"| {phase['accepted_per_s']:.1f} | {phase['completed_per_s']:.1f} | {_fmt(phase.get('ratio_to_pgbench'))} "
            f"| {_fmt(final['p50_ms'])} / {_fmt(final['p95_ms'])} / {_fmt(final['p99_ms'])} "
            f"| {phase['unfinished']} | {sum(phase['unexpected_errors'].values())} |"
        )
    if report.get("steady"):
        rows = ", ".join(f"{table} {count:,}" for table, count in report["steady"]["rows"].items())
        lines += [
            "",
            f"Steady state: the tables were pre-filled before measuring ({report['steady']['seconds']:g} s): {rows}.",
        ]
    lines += _search_lines(report)
    lines += _soak_lines(report)
    for phase in report["phases"]:
        lines += [
            "",
            f"## {phase['name']}",
            "",
            "| request | count | p50 ms | p95 ms | p99 ms | max ms |",
            "|---|---|---|---|---|---|",
        ]
        for kind, s in phase["api_latency"].items():
            lines.append(
                f"| {kind} | {s['count']} | {_fmt(s['p50_ms'])} | {_fmt(s['p95_ms'])} | {_fmt(s['p99_ms'])} "
                f"| {_fmt(s['max_ms'])} |"
            )
        lines += [
            "",
            f"Responses by code: {phase['responses']}; refused for overload (429 `overloaded`, backpressure): "
            f"{phase.get('refused_overloaded', 0)}. Unexpected errors: {phase['unexpected_errors'] or 'none'}. "
            f"Websocket: {phase['ws_missed']} finals polled (not pushed), {phase['ws_errors']} socket errors.",
            "",
            f"CPU: machine {phase['machine_cores_busy']} cores busy of {report['machine']['cpus']}, load average "
            f"{', '.join(f'{v:.1f}' for v in phase['load_average'])}; by process (cores, phase average): "
            + ", ".join(f"{k} {v}" for k, v in sorted(phase["cpu_cores"].items(), key=lambda kv: -kv[1])[:14]),
        ]
        if phase.get("statements_per_transfer"):
            counted = phase["statements_per_transfer"]
            lines.append(
                f"\nStatements per completed transfer (pg_stat_statements, top level; {sum(counted.values()):.1f} in "
                "all): " + ", ".join(f"{db} {n}" for db, n in sorted(counted.items(), key=lambda kv: -kv[1]))
            )
        if phase.get("shed"):
            lines.append(f"\nOpen loop shed {phase['shed']} arrivals (more than the in-flight cap waiting).")
    targets = report.get("targets")
    if targets:
        lines += ["", "## Targets (issue)", ""]
        for name, target in targets.items():
            lines.append(
                f"- {name}: {target['value']} (target {target['target']}) → **{'met' if target['met'] else 'NOT met'}**"
            )
    return "\n".join(lines) + "\n"


def _search_lines(report: dict) -> list[str]:
    search = report.get("search")
    if not search:
        return []
    lines = [
        "",
        "## Search for the sustained rate",
        "",
        "A step is sustained when completed ≥ 90 % of offered (less the 5 % deliberate overdrafts), nothing is "
        "left unfinished or refused for overload, there is no unexpected error and p99 202→final ≤ 1 s.",
        "",
        "| offered /s | accepted /s | completed /s | 202→final p99 ms | API p99 ms | unfinished | unexpected "
        "| overdrafts refused (422) | stack CPU ms/transfer | sustained |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for step in search["steps"]:
        lines.append(
            f"| {step['offered_transfers_per_s']} | {step['accepted_per_s']} | {step['completed_per_s']} "
            f"| {_fmt(step['accepted_to_final']['p99_ms'])} | {_fmt(step['api_latency']['all']['p99_ms'])} "
            f"| {step['unfinished']} | {sum(step['unexpected_errors'].values())} | {step['overdrafts_refused']} "
            f"| {_fmt(stack_cpu_ms_per_transfer(step))} | {'yes' if step['sustained'] else 'no'} |"
        )
    best = search.get("at_sustained")
    sustained, ratio = _fmt(search["sustained_per_s"]), _fmt(search["ratio_to_pgbench"])
    lines += ["", f"**Sustained: {sustained} transfers/s = {ratio} × pgbench.**"]
    if best:
        per = sorted(best["cpu_ms_per_transfer"].items(), key=lambda kv: -kv[1])
        lines += [
            "",
            f"CPU per completed transfer at {best['offered_transfers_per_s']}/s (ms; the stack's processes sum to "
            f"{_fmt(stack_cpu_ms_per_transfer(best))}): "
            + ", ".join(f"{name} {ms}" for name, ms in per if name not in NOT_THE_STACK)
            + "; not the stack: "
            + ", ".join(f"{name} {ms}" for name, ms in per if name in NOT_THE_STACK)
            + ".",
        ]
    return lines


def plot(path: Path, report: dict) -> None:
    phases = report["phases"]
    fig, axes = plt.subplots(2, len(phases), figsize=(6 * len(phases), 7), squeeze=False)
    for column, phase in enumerate(phases):
        series = phase["series"]
        seconds = list(range(len(series["accepted"])))
        top, bottom = axes[0][column], axes[1][column]
        top.plot(seconds, series["accepted"], label="accepted (202)/s")
        top.plot(seconds, series["completed"], label="completed (final)/s")
        top.plot(seconds, series["requests"], label="all requests/s", alpha=0.5)
        top.set_title(f"{phase['name']}: throughput")
        top.set_xlabel("s")
        top.legend(fontsize=8)
        bottom.plot(seconds, series["final_p99_ms"], label="202→final p99 ms")
        bottom.plot(seconds, series["final_p50_ms"], label="202→final p50 ms")
        bottom.plot(seconds, series["api_p99_ms"], label="API p99 ms (all kinds)")
        bottom.set_title(f"{phase['name']}: latency")
        bottom.set_xlabel("s")
        bottom.set_yscale("log")
        bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _soak_lines(report: dict) -> list[str]:
    soak = report.get("soak")
    if not soak:
        return []
    lines = [
        "",
        f"## Soak: {soak['rate_per_s']:g} transfers/s for {soak['minutes']:g} min ({len(soak['samples'])} samples)",
        "",
        "| process | RSS first → last MB | MB/hour (trend) | RSS after a month at that trend MB | CPU cores (mean) |",
        "|---|---|---|---|---|",
    ]
    for name, trend in sorted(soak["rss_trend"].items(), key=lambda kv: -kv[1]["last_mb"]):
        cores = [s["cpu_cores"].get(name) for s in soak["samples"][1:] if s["cpu_cores"].get(name) is not None]
        mean = round(sum(cores) / len(cores), 3) if cores else None
        lines.append(
            f"| {name} | {trend['first_mb']:g} → {trend['last_mb']:g} | {_fmt(trend['mb_per_hour'])} "
            f"| {_fmt(trend['month_mb'])} | {_fmt(mean)} |"
        )
    p99 = ", ".join(_fmt(value) for value in soak["p99_ms_per_minute"])
    lines += ["", f"202→final p99 per minute (ms): {p99}", "", "![soak](soak.png)"]
    return lines


def soak_plot(path: Path, soak: dict) -> None:
    """RSS of every process group over the soak (one line each), and p99 per minute below."""
    figure, (memory, latency) = plt.subplots(2, 1, figsize=(11, 8), sharex=False)
    minutes = [s["t_s"] / 60 for s in soak["samples"]]
    for name in soak["rss_trend"]:
        memory.plot(minutes, [s["rss_mb"].get(name) for s in soak["samples"]], label=name)
    memory.set_ylabel("RSS MB")
    memory.set_xlabel("minute")
    memory.legend(fontsize=6, ncol=3)
    latency.plot(range(len(soak["p99_ms_per_minute"])), soak["p99_ms_per_minute"], marker="o")
    latency.set_ylabel("202→final p99 ms")
    latency.set_xlabel("minute")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
