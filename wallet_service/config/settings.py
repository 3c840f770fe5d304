"""Settings of wallet_service: the shared ones from walletkit.conf, plus what only this service has."""

import os

os.environ.setdefault("SERVICE_NAME", "wallet")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS  # noqa: E402
from walletkit.events import Topic  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "wallets"]

CONSUMERS = {
    "wallet-ledger-events": {"topic": Topic.LEDGER_EVENTS, "handlers": "wallets.handlers.ledger_event_handle"},
}
