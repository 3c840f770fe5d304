from django.core.management.base import BaseCommand

from walletkit.shutdown import ShutdownFlag


class Command(BaseCommand):
    help = "Drive sagas that stopped moving to an end (filled in with the saga, issue 3)."

    def handle(self, *args, **options):
        shutdown = ShutdownFlag().install()
        while not shutdown.wait(5):
            pass
