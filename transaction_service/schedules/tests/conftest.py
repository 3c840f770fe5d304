# The coordinator's fixtures (fake wallet over real HTTP, short clocks, user tokens) serve schedules too.
from transactions.tests.conftest import (  # noqa: F401
    _short_clocks,
    api_client_for,
    closed_port_url,
    fake_wallet,
    release,
)
