"""``manage.py prune_delivered``: delete published outbox rows and inbox rows past their retention
(walletkit/retention.py, decision 0015); once, or ``--every N`` seconds until SIGTERM/SIGINT (the
``pruner`` process of the Procfile). Refuses to delete anything when the windows break the rule."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from walletkit.metrics import worker_metrics_serve
from walletkit.retention import Retention, retention_prune
from walletkit.shutdown import ShutdownFlag

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Delete published outbox rows and inbox rows older than their retention windows (dead letters stay)."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=None, help="prune every N seconds until SIGTERM")
        parser.add_argument("--batch-size", type=int, default=settings.PRUNE_BATCH_SIZE)

    def handle(self, *args, every: float | None, batch_size: int, **options):
        retention = Retention.from_settings()
        # A periodic pruner keeps a row up to one interval past its window; a single run, not at all.
        problems = retention.problems(prune_interval_seconds=every or 0)
        if problems:
            raise CommandError("retention windows are unsafe: " + "; ".join(problems))
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if every is None:
            self._round(retention, batch_size)
            return
        shutdown = ShutdownFlag().install()
        worker_metrics_serve()
        while not shutdown.requested:
            close_old_connections()
            try:
                self._round(retention, batch_size)
            except Exception:  # the database is away: the next round tries again
                logger.exception("pruning round failed")
            shutdown.wait(every)

    def _round(self, retention: Retention, batch_size: int) -> None:
        deleted = retention_prune(retention=retention, batch_size=batch_size)
        logger.info("pruned delivered events", extra=deleted)
        self.stdout.write(f"pruned {deleted['outbox']} outbox rows, {deleted['inbox']} inbox rows")
