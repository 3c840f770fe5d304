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

# One group: the Procfile runs both in one loop (one fetch session, handlers never concurrent).
# The entries come from transaction.events alone; wallet.events only for WalletOpened (decision 0018).
CONSUMERS = {
    name: {"topic": topic, "handlers": f"history.handlers.{handler}", "group": "history"}
    for name, topic, handler in [
        ("history-wallet-events", Topic.WALLET_EVENTS, "wallet_event_handle"),
        ("history-transaction-events", Topic.TRANSACTION_EVENTS, "transaction_event_handle"),
    ]
}
