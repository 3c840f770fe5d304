"""A minimal service for testing the kit itself against the real database and broker."""

import os

os.environ.setdefault("SERVICE_NAME", "kit")

from walletkit.conf import *  # noqa: E402, F403
from walletkit.conf import INSTALLED_APPS  # noqa: E402

INSTALLED_APPS = [*INSTALLED_APPS, "walletkit.tests.kitapp"]
ROOT_URLCONF = "walletkit.tests.urls"
CONSUMERS = {
    "kit-effects": {
        "topic": "kit.events",
        "handlers": "walletkit.tests.kitapp.handlers.effect_handlers",
        "max_attempts": 3,
    },
    # Shares kit-effects' group: run_consumer can run both in one loop.
    "kit-other-effects": {
        "topic": "kit.other",
        "handlers": "walletkit.tests.kitapp.handlers.effect_handlers",
        "group": "kit-effects",
        "max_attempts": 3,
    },
}
