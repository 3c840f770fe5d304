"""Settings of history_service: the shared ones from walletkit.conf, plus what only this service has."""

import os

os.environ.setdefault("SERVICE_NAME", "history")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS, REDIS_URL  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "channels", "history"]

# Status changes are pushed to the gateway's websockets through the shared Redis channel layer
# (never the in-memory one: the gateway is another process).
CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [REDIS_URL]}}}

CONSUMERS = {
    "history-wallet-events": {"topic": "wallet.events", "handler": "history.handlers.wallet_event_handle"},
    "history-ledger-events": {"topic": "ledger.events", "handler": "history.handlers.ledger_event_handle"},
    "history-transaction-events": {
        "topic": "transaction.events",
        "handler": "history.handlers.transaction_event_handle",
    },
}
