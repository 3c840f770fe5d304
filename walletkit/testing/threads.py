"""Real threads for tests: work started together on separate connections, and loops run until stopped."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable

from django.db import connection, connections

from walletkit.shutdown import ShutdownFlag


def in_threads(count: int, work: Callable[[int], object]) -> list[BaseException]:
    """Run ``work(i)`` in ``count`` threads started together (a barrier), each on its own database
    connection; return what they raised, for the test to assert on."""
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as exc:  # noqa: BLE001 — collected and asserted on by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread is stuck"
    return errors


class Worker:
    """A relay or consumer loop running in a thread until stopped; its DB connections are closed after."""

    def __init__(self, name: str, target: Callable[[ShutdownFlag], None]) -> None:
        self.shutdown = ShutdownFlag()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)
        self.thread.start()

    def _run(self, target: Callable[[ShutdownFlag], None]) -> None:
        try:
            target(self.shutdown)
        except BaseException as exc:  # surfaced by stop(): a crashed worker fails the test
            self.error = exc
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.shutdown.request()
        self.thread.join(timeout=30)
        if self.thread.is_alive():
            frame = sys._current_frames().get(self.thread.ident)
            raise AssertionError(f"{self.thread.name} did not stop:\n{''.join(traceback.format_stack(frame))}")
        if self.error:
            raise self.error


def consumer_worker(name: str) -> Worker:
    """The consumer ``name`` (settings.CONSUMERS) running for real in a thread."""
    from walletkit.inbox.loop import ConsumerLoop
    from walletkit.inbox.registry import consumer_get

    return Worker(name, lambda shutdown: ConsumerLoop(consumer_get(name), shutdown=shutdown).run())
