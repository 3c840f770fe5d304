from django.core.management.base import BaseCommand

from walletkit.inbox.loop import ConsumerLoop
from walletkit.inbox.registry import consumer_get, consumer_registry
from walletkit.shutdown import ShutdownFlag


class Command(BaseCommand):
    help = "Run one registered Kafka consumer until SIGTERM/SIGINT."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="consumer name from settings.CONSUMERS")
        parser.add_argument("--list", action="store_true", help="list registered consumers and exit")
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args, name=None, list=False, batch_size=200, **options):
        if list or not name:
            for spec in consumer_registry().values():
                self.stdout.write(
                    f"{spec.name}\t{spec.topic}\t{spec.group}\t{spec.handler_path}\t{spec.dead_letter_topic}"
                )
            return
        ConsumerLoop(consumer_get(name), shutdown=ShutdownFlag().install(), batch_size=batch_size).run()
