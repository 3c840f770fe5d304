"""``manage.py reconcile``: one run (for cron: exit 0 clean, 1 findings, 2 failed), or ``--every N``
seconds until SIGTERM/SIGINT (the ``reconciler`` process of the Procfile). Runs are incremental
when they can be; ``--full`` checks all history (decision 0020)."""

from __future__ import annotations

import logging

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from reconciliation.models import ReconciliationRun
from reconciliation.services import run_execute
from walletkit.metrics import worker_metrics_serve
from walletkit.shutdown import ShutdownFlag

logger = logging.getLogger(__name__)
EXIT_CODES = {ReconciliationRun.Status.CLEAN: 0, ReconciliationRun.Status.FINDINGS: 1}


class Command(BaseCommand):
    help = "Reconcile the ledger with the wallets and transactions, and store the run."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=None, help="run every N seconds until SIGTERM")
        parser.add_argument(
            "--full", action="store_true", help="check all history, not only what changed since the last run"
        )

    def handle(self, *args, every: float | None, full: bool, **options):
        if every is None:
            run = run_execute(trigger="command", full=full)
            self.stdout.write(self._summary(run))
            raise SystemExit(EXIT_CODES.get(run.status, 2))
        shutdown = ShutdownFlag().install()
        worker_metrics_serve()
        while not shutdown.requested:
            close_old_connections()
            try:
                run = run_execute(trigger="cron", full=full)
                full = False  # --full --every N: the first run only; then incremental, full when due
                self.stdout.write(self._summary(run))
            except Exception:  # a bad round must not end the loop; the next one tries again
                logger.exception("reconciliation round failed")
            shutdown.wait(every)

    def _summary(self, run: ReconciliationRun) -> str:
        window = f" since {run.window_start.isoformat()}" if run.window_start else ""
        lines = [
            f"run {run.id} ({run.mode}{window}): {run.status} ({run.counts.get('findings', 0)} findings) "
            f"{run.error}".rstrip()
        ]
        for currency, row in sorted(run.totals.items()):
            lines.append(
                f"  {currency}: ledger wallets {row['ledger_wallets']}, in flight {row['in_flight']}, "
                f"wallets {row['wallet_balances']}, difference {row['difference']}, external {row['external']}, "
                f"suspense {row['suspense']}"
            )
        for finding in run.findings.all()[:50]:
            lines.append(
                f"  {finding.severity} {finding.kind} {finding.subject}: expected {finding.expected} "
                f"actual {finding.actual}"
            )
        return "\n".join(lines)
