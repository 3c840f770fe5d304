"""Cooperative shutdown for worker loops: SIGTERM/SIGINT finish the current batch, then stop."""

from __future__ import annotations

import signal
import threading


class ShutdownFlag:
    def __init__(self) -> None:
        self._event = threading.Event()

    def install(self) -> ShutdownFlag:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self._event.set())
        return self

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def request(self) -> None:
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True if shutdown was requested meanwhile."""
        return self._event.wait(seconds)
