import logging

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from schedules.scheduler import scheduler_round
from walletkit.metrics import worker_metrics_serve
from walletkit.shutdown import ShutdownFlag

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Pay the scheduled transfers' due runs (UTC dates), each once, through the transfer saga."

    def handle(self, *args, **options):
        shutdown = ShutdownFlag().install()
        worker_metrics_serve()
        logger.info("scheduler started", extra={"interval": settings.SCHEDULER_INTERVAL})
        while not shutdown.requested:
            close_old_connections()
            try:
                busy = scheduler_round()
            except Exception:
                # The database may be down: log, drop the connection, try again next round.
                logger.exception("scheduler round failed")
                connection.close()
                busy = 0
            if not busy and shutdown.wait(settings.SCHEDULER_INTERVAL):
                break
        logger.info("scheduler stopped")
