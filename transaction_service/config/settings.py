"""Settings of transaction_service: the shared ones from walletkit.conf, plus what only this service has."""

import os

os.environ.setdefault("SERVICE_NAME", "transaction")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS, env  # noqa: E402
from walletkit.events import Topic  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "transactions", "schedules", "paymentrequests"]

# One group: the Procfile runs both in one loop (one fetch session, handlers never concurrent).
CONSUMERS = {
    name: {"topic": topic, "handlers": f"transactions.handlers.{handler}", "group": "transaction"}
    for name, topic, handler in [
        ("transaction-ledger-events", Topic.LEDGER_EVENTS, "ledger_event_handle"),
        ("transaction-wallet-events", Topic.WALLET_EVENTS, "wallet_event_handle"),
    ]
}

# The saga's clocks (seconds). Tests and `make up` shorten them through the environment.
SWEEPER_INTERVAL = env.float("SWEEPER_INTERVAL", default=2.0)
SAGA_DEADLINE = env.float("SAGA_DEADLINE", default=10.0)
HOLD_EXPIRY = env.float("HOLD_EXPIRY", default=60.0)
# Backpressure: new money movements get 429 `overloaded` while this many sagas are unfinished.
SAGAS_IN_FLIGHT_MAX = env.int("SAGAS_IN_FLIGHT_MAX", default=200)
# The scheduler's poll (seconds): a run due today starts within about this long of being created.
SCHEDULER_INTERVAL = env.float("SCHEDULER_INTERVAL", default=1.0)
