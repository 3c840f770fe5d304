from datetime import datetime

from django.core.management.base import BaseCommand

from walletkit.metrics import worker_metrics_serve
from walletkit.outbox.relay import OutboxRelay
from walletkit.outbox.services import outbox_republish
from walletkit.shutdown import ShutdownFlag


class Command(BaseCommand):
    help = "Publish this service's outbox to Kafka until SIGTERM/SIGINT; or mark a range for republishing."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--poll-interval", type=float, default=5.0, help="fallback when a NOTIFY is missed")
        parser.add_argument("--republish-since", type=datetime.fromisoformat, help="ISO time; mark and exit")
        parser.add_argument("--republish-from-id", type=int)
        parser.add_argument("--republish-to-id", type=int)
        parser.add_argument("--republish-key", help="e.g. a transaction id")

    def handle(self, *args, **options):
        republish = {
            "since": options["republish_since"],
            "first_id": options["republish_from_id"],
            "last_id": options["republish_to_id"],
            "key": options["republish_key"],
        }
        if any(value is not None for value in republish.values()):
            count = outbox_republish(**republish)
            self.stdout.write(f"marked {count} outbox events for republishing")
            return
        relay = OutboxRelay(
            shutdown=ShutdownFlag().install(),
            batch_size=options["batch_size"],
            poll_interval=options["poll_interval"],
        )
        worker_metrics_serve()
        relay.run()
