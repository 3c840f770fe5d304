"""Settings of ledger_service: the shared ones from walletkit.conf, plus what only this service has."""

import os

os.environ.setdefault("SERVICE_NAME", "ledger")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "ledger"]

CONSUMERS = {
    "ledger-wallet-events": {"topic": "wallet.events", "handler": "ledger.handlers.wallet_event_handle"},
}
