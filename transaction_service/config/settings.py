"""Settings of transaction_service: the shared ones from walletkit.conf, plus what only this service has."""

import os

os.environ.setdefault("SERVICE_NAME", "transaction")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "transactions"]

CONSUMERS = {
    "transaction-ledger-events": {"topic": "ledger.events", "handler": "transactions.handlers.ledger_event_handle"},
}
