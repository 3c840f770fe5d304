from django.core.management.base import BaseCommand, CommandError

from walletkit.inbox.loop import BATCH_SIZE, ConsumerLoop
from walletkit.inbox.registry import consumer_get, consumer_registry
from walletkit.metrics import worker_metrics_serve
from walletkit.shutdown import ShutdownFlag


class Command(BaseCommand):
    help = "Run registered Kafka consumers until SIGTERM/SIGINT: one loop, several names when they share a group."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="consumer names from settings.CONSUMERS")
        parser.add_argument("--list", action="store_true", help="list registered consumers and exit")
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, names=(), list=False, batch_size=BATCH_SIZE, **options):
        if list or not names:
            for spec in consumer_registry().values():
                handled = ",".join(sorted(spec.handlers))
                self.stdout.write(f"{spec.name}\t{spec.topic}\t{spec.group}\t{handled}\t{spec.dead_letter_topic}")
            return
        try:
            specs = [consumer_get(name) for name in names]
            loop = ConsumerLoop(*specs, shutdown=ShutdownFlag().install(), batch_size=batch_size)
        except (KeyError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        worker_metrics_serve()
        loop.run()
