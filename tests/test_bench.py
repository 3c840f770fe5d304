"""`make bench` end to end on a tiny scale against the suite's stack, and its CPU accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import stats

REPO = Path(__file__).resolve().parents[1]


def test_a_process_groups_cpu_keeps_the_time_of_children_that_exited():
    # PostgreSQL backends come and go with connections: their CPU must stay in the server's total.
    before = stats.cpu_by_group({"me": os.getpid()})["me"]
    burn = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)
    after = stats.cpu_by_group({"me": os.getpid()})["me"]

    assert after - before >= 0.35


def test_the_benchmark_runs_its_phases_and_the_search_and_writes_its_report(gateway_url, tmp_path):
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--users", "2", "--clients", "2", "--duration", "4", "--warmup", "1",
               "--rate", "2", "--search-from", "2", "--search-seconds", "3", "--search-max", "3", "--no-pgbench",
               "--out", str(out)]  # fmt: skip
    finished = subprocess.run(
        command, cwd=REPO, env={**os.environ, "BENCH_GATEWAY_URL": gateway_url},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads((out / "results.json").read_text())
    phases = {phase["name"]: phase for phase in result["phases"]}
    assert set(phases) == {"closed-loop", "open-loop"}
    for phase in phases.values():
        assert phase["accepted"] > 0 and phase["completed_per_s"] > 0
        assert phase["unexpected_errors"] in ({}, 0, []), phase["unexpected_errors"]
        assert phase["accepted_to_final"]["count"] > 0
    steps = result["search"]["steps"]
    assert 1 <= len(steps) <= 2 and steps[0]["offered_transfers_per_s"] == 2.0
    for step in steps:
        assert isinstance(step["sustained"], bool) and step["accepted"] > 0
        # Against a running stack only the load generator's own CPU is known.
        assert step["cpu_ms_per_transfer"][stats.LOAD_GENERATOR] > 0
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# Benchmark") and "## Search for the sustained rate" in summary
    assert (out / "timeline.png").stat().st_size > 0
