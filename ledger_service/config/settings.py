"""Settings of ledger_service: the shared ones from walletkit.conf, plus what only this service has."""

import os

os.environ.setdefault("SERVICE_NAME", "ledger")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS, env  # noqa: E402
from walletkit.events import Topic  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "ledger", "reconciliation"]
METRICS_DATABASE_COLLECTORS = ["reconciliation.metrics.ReconciliationCollector"]

CONSUMERS = {
    "ledger-wallet-events": {"topic": Topic.WALLET_EVENTS, "handlers": "ledger.handlers.wallet_event_handle"},
}

# Reconciliation (seconds): how far back the wallet service lists captured holds, and how far before
# the previous run's start an incremental run's window begins (clock skew between hosts and the time
# from a row's timestamp to its commit, see reconciliation.selectors).
RECONCILE_CLOCK_MARGIN = env.float("RECONCILE_CLOCK_MARGIN", default=300.0)
# A run checks only what changed since the previous run, but every RECONCILE_FULL_EVERY seconds it
# reads everything again (decision 0020); 0: every run is full.
RECONCILE_FULL_EVERY = env.float("RECONCILE_FULL_EVERY", default=86400.0)
