"""Settings of history_service: the shared ones from walletkit.conf, plus what only this service has."""

import os

os.environ.setdefault("SERVICE_NAME", "history")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import CHANNEL_LAYER, INSTALLED_APPS  # noqa: E402
from walletkit.events import Topic  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "channels", "history"]

# Status changes are pushed to the gateway's websockets through the shared Redis channel layer
# (never the in-memory one: the gateway is another process).
CHANNEL_LAYERS = {"default": CHANNEL_LAYER}

# One group: the Procfile runs all three in one loop (one fetch session, handlers never concurrent).
CONSUMERS = {
    name: {"topic": topic, "handlers": f"history.handlers.{handler}", "group": "history"}
    for name, topic, handler in [
        ("history-wallet-events", Topic.WALLET_EVENTS, "wallet_event_handle"),
        ("history-ledger-events", Topic.LEDGER_EVENTS, "ledger_event_handle"),
        ("history-transaction-events", Topic.TRANSACTION_EVENTS, "transaction_event_handle"),
    ]
}
