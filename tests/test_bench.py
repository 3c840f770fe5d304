"""`make bench` end to end on a tiny scale against the suite's stack, and its CPU accounting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg

from bench import soak, statements, stats, steady
from tests.people import Person
from tests.test_backup import reconcile_exit_code
from walletkit.testing.waiting import wait_until

REPO = Path(__file__).resolve().parents[1]


def test_a_process_groups_cpu_keeps_the_time_of_children_that_exited():
    # PostgreSQL backends come and go with connections: their CPU must stay in the server's total.
    before = stats.cpu_by_group({"me": os.getpid()})["me"]
    burn = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)
    after = stats.cpu_by_group({"me": os.getpid()})["me"]

    assert after - before >= 0.35


def test_the_benchmark_runs_its_phases_and_the_search_and_writes_its_report(stack, gateway_url, tmp_path):
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--users", "2", "--clients", "2", "--duration", "4", "--warmup", "1",
               "--rate", "2", "--search-from", "2", "--search-seconds", "3", "--search-max", "3", "--no-pgbench",
               "--pg-url", stack.config.database_url("postgres"), "--out", str(out)]  # fmt: skip
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
        # Every service's database took part in the transfers, and was counted.
        assert set(phase["statements_per_transfer"]) == set(statements.SERVICE_DATABASES)
        assert all(n > 0 for n in phase["statements_per_transfer"].values()), phase["statements_per_transfer"]
    steps = result["search"]["steps"]
    assert 1 <= len(steps) <= 2 and steps[0]["offered_transfers_per_s"] == 2.0
    for step in steps:
        assert isinstance(step["sustained"], bool) and step["accepted"] > 0
        # Against a running stack only the load generator's own CPU is known.
        assert step["cpu_ms_per_transfer"][stats.LOAD_GENERATOR] > 0
    summary = (out / "summary.md").read_text()
    assert summary.startswith("# Benchmark") and "## Search for the sustained rate" in summary
    assert "Statements per completed transfer" in summary
    assert (out / "timeline.png").stat().st_size > 0


def test_a_process_groups_memory_includes_its_children():
    # gunicorn's and PostgreSQL's memory is in their children: a group's RSS must include them.
    alone = soak.rss_by_group({"me": os.getpid()})["me"]
    hold = (
        "import sys\nblock = bytearray(64 * 1024 * 1024)\nblock[::4096] = b'x' * len(block[::4096])\nsys.stdin.read()"
    )
    child = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE)
    try:
        with_child = wait_until(
            lambda: (rss := soak.rss_by_group({"me": os.getpid()})["me"]) >= alone + 60 and rss,
            timeout=20, message="the child's 64 MB counted",
        )  # fmt: skip
    finally:
        child.communicate(b"", timeout=20)
    assert with_child >= alone + 60


def test_the_rss_trend_is_a_slope_per_hour_projected_over_a_month():
    samples = [
        {"t_s": t, "rss_mb": {"leaky": 100 + t / 360, "flat": 50.0}, "cpu_cores": {}} for t in range(0, 1260, 60)
    ]

    trend = soak.rss_trend(samples)

    assert trend["leaky"]["mb_per_hour"] == 10.0 and trend["leaky"]["month_mb"] == round(103.3 + 10 * 720, 0)
    assert trend["flat"]["mb_per_hour"] == 0.0 and trend["flat"]["month_mb"] == 50.0


def test_p99_per_minute_groups_transfers_by_the_minute_they_were_accepted():
    accepted = {f"a{i}": 10.0 + i * 0.1 for i in range(100)} | {"b": 75.0, "late": 200.0}
    finals = {f"a{i}": (10.0 + i * 0.1 + (i + 1) / 1000, "SUCCESS") for i in range(100)} | {"b": (75.5, "SUCCESS")}

    assert soak.p99_per_minute(accepted, finals, start=10.0, end=130.0) == [99.0, 500.0]


def test_the_soak_samples_every_process_and_writes_its_report(gateway_url, tmp_path):
    out = tmp_path / "results"
    command = [sys.executable, "-m", "bench", "--soak", "--rate", "2", "--soak-minutes", "0.15", "--sample-seconds",
               "3", "--users", "2", "--warmup", "0", "--no-pgbench", "--out", str(out)]  # fmt: skip
    finished = subprocess.run(
        command, cwd=REPO, env={**os.environ, "BENCH_GATEWAY_URL": gateway_url},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads((out / "results.json").read_text())
    samples = result["soak"]["samples"]
    assert len(samples) >= 3 and samples[0]["rss_mb"][stats.LOAD_GENERATOR] > 0
    assert result["soak"]["rss_trend"][stats.LOAD_GENERATOR]["mb_per_hour"] is not None
    assert result["soak"]["p99_ms_per_minute"][0] is not None
    assert "## Soak" in (out / "summary.md").read_text() and (out / "soak.png").stat().st_size > 0


def test_the_steady_prefill_copies_round_trips_and_the_money_still_adds_up(stack, gateway_url):
    first, second = Person.sign_up(gateway_url, prefix="steady"), Person.sign_up(gateway_url, prefix="steady")
    first.fund("10.00")
    round_trip = []
    for payer, payee in ((first, second), (second, first)):
        sent = payer.pay(payee.wallet_id, "1.25")
        assert payer.wait_final(sent.json()["id"])["status"] == "SUCCESS"
        round_trip.append(sent.json()["id"])
    urls = {name: stack.config.database_url(name) for name in {*steady.CLONES, *steady.DELIVERY_DATABASES}}
    postings_before = steady.prefill(database_urls=urls, transaction_ids=round_trip, copies=0, days=1)["rows"]

    filled = steady.prefill(database_urls=urls, transaction_ids=round_trip, copies=50, days=30)

    added = {table: filled["rows"][table] - postings_before[table] for table in filled["rows"]}
    assert {table: rows for table, rows in added.items() if "." not in table} == {
        "transaction": 100, "wallet_hold": 100, "ledger_journal_entry": 100, "ledger_posting": 200,
        "history_entry": 200}  # fmt: skip
    # Each cloned transfer has its events in the outboxes and the consumers' inbox rows: 50 copies of the
    # round trip's own, all delivered (nothing for a relay to send).
    delivery = {table: rows for table, rows in added.items() if "." in table}
    assert sum(rows for table, rows in delivery.items() if table.endswith("outbox_event")) >= 50 * 2 * 3
    assert sum(rows for table, rows in delivery.items() if table.endswith("inbox_event")) >= 50 * 2 * 3
    assert all(rows % 50 == 0 for rows in delivery.values()), delivery
    old_unpublished = (
        "SELECT count(*) FROM outbox_event WHERE published_at IS NULL AND created_at < now() - interval '1 hour'"
    )
    for database in steady.DELIVERY_DATABASES:
        with psycopg.connect(urls[database]) as conn:
            assert conn.execute(old_unpublished).fetchone()[0] == 0
    assert first.balance() == Decimal("10.00") and second.balance() == Decimal("0.00")
    assert len(first.get(f"/wallets/{first.wallet_id}/history", limit=100).json()["results"]) == 100
    reconciled = reconcile_exit_code(stack)
    assert reconciled.returncode == 0, reconciled.stdout[-3000:] + reconciled.stderr[-3000:]


def test_the_floor_measures_each_unit_a_transfer_is_made_of(stack):
    from bench import floor

    costs = floor.measure(stack, count=40)

    assert len(costs) == 5 and any(unit.startswith("broker message") for unit in costs)
    for unit, cost in costs.items():
        # The caller's side is this process's own CPU: never zero for real work.
        assert cost["caller_ms"] > 0 and cost["wall_ms"] > 0, (unit, cost)
