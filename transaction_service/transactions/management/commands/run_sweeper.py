import logging

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from transactions.sweeper import sweeper_round
from walletkit.metrics import worker_metrics_serve
from walletkit.shutdown import ShutdownFlag

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Drive sagas that stopped moving (INITIATED/RESERVED past SAGA_DEADLINE) to an end."

    def handle(self, *args, **options):
        shutdown = ShutdownFlag().install()
        worker_metrics_serve()
        logger.info("sweeper started", extra={"interval": settings.SWEEPER_INTERVAL})
        while not shutdown.requested:
            close_old_connections()
            try:
                sweeper_round()
            except Exception:
                # The database may be down: log, drop the connection, try again next round.
                logger.exception("sweeper round failed")
                connection.close()
            if shutdown.wait(settings.SWEEPER_INTERVAL):
                break
        logger.info("sweeper stopped")
