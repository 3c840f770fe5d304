"""Settings of history_service: the shared ones from walletkit.conf, plus what only this service has."""

import os

os.environ.setdefault("SERVICE_NAME", "history")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "history"]

CONSUMERS = {
    "history-wallet-events": {"topic": "wallet.events", "handler": "history.handlers.wallet_event_handle"},
    "history-ledger-events": {"topic": "ledger.events", "handler": "history.handlers.ledger_event_handle"},
    "history-transaction-events": {
        "topic": "transaction.events",
        "handler": "history.handlers.transaction_event_handle",
    },
}
