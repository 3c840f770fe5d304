"""Connection upkeep for the long-running workers (consumer loops, relays)."""

from __future__ import annotations

import time

from django.db import close_old_connections


class ConnectionUpkeep:
    """``close_old_connections()`` — Django's per-request upkeep: drop a connection past
    CONN_MAX_AGE, health-check it (``SELECT 1``) before its next use — at most once per ``every``
    seconds. Called per loop iteration it cost a ``SELECT 1`` per batch under load; a connection
    that breaks between two upkeeps fails its next statement instead, which the loops already
    handle (close, retry)."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._done_at = float("-inf")

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._done_at >= self.every:
            self._done_at = now
            close_old_connections()
