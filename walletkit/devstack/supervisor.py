"""A small process supervisor: start, restart-on-death (like a container restart policy), stop all.

Every child runs in its own session (process group) so stopping it also stops anything it
forked (gunicorn workers). Nothing is left behind: stop() escalates SIGTERM → SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_RESTART_DELAY = 10.0
HEALTHY_AFTER = 30.0  # a process that ran this long is healthy again: reset its backoff


@dataclass
class ProcessSpec:
    name: str
    argv: list[str]
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    # Run (in a thread, best effort) after the supervisor restarted the process on its own, e.g.
    # re-create the topics a memory-only broker forgot before clients auto-create them wrongly.
    on_restart: Callable[[], None] | None = None


@dataclass
class _Running:
    spec: ProcessSpec
    popen: subprocess.Popen
    started_at: float
    restarts: int = 0
    delay: float = 0.5


class Supervisor:
    def __init__(self, *, log_dir: Path, state_file: Path | None = None, echo=print) -> None:
        self.log_dir = log_dir
        self.state_file = state_file
        self.echo = echo
        self.running: dict[str, _Running] = {}
        self._stopping = threading.Event()
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, spec: ProcessSpec) -> subprocess.Popen:
        with self._lock:
            previous = self.running.get(spec.name)
            popen = self._spawn(spec)
            entry = _Running(spec=spec, popen=popen, started_at=time.monotonic())
            if previous:
                entry.restarts, entry.delay = previous.restarts, previous.delay
            self.running[spec.name] = entry
            self._write_state()
            return popen

    def _spawn(self, spec: ProcessSpec) -> subprocess.Popen:
        log = open(self.log_dir / f"{spec.name}.log", "ab", buffering=0)  # noqa: SIM115 - owned by the child
        try:
            return subprocess.Popen(
                spec.argv, cwd=spec.cwd, env={**os.environ, **spec.env}, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, user=spec.user,
            )  # fmt: skip
        finally:
            log.close()

    def pid(self, name: str) -> int:
        return self.running[name].popen.pid

    def pids(self) -> dict[str, int]:
        with self._lock:
            return {name: entry.popen.pid for name, entry in self.running.items()}

    def watch_in_background(self) -> None:
        self._thread = threading.Thread(target=self.watch, name="supervisor", daemon=True)
        self._thread.start()

    def watch(self) -> None:
        """Restart whatever dies until stop() is called."""
        while not self._stopping.wait(0.2):
            with self._lock:
                for name, entry in list(self.running.items()):
                    code = entry.popen.poll()
                    if code is None:
                        if time.monotonic() - entry.started_at > HEALTHY_AFTER:
                            entry.delay = 0.5
                        continue
                    if time.monotonic() - entry.started_at < entry.delay:
                        continue  # crash-looping: wait out the backoff before the next try
                    self.echo(f"[supervisor] {name} exited with {code}; restarting")
                    entry.restarts += 1
                    entry.delay = min(entry.delay * 2, MAX_RESTART_DELAY)
                    entry.popen = self._spawn(entry.spec)
                    entry.started_at = time.monotonic()
                    self._write_state()
                    if entry.spec.on_restart:
                        self._run_hook(name, entry.spec.on_restart)

    def _run_hook(self, name: str, hook: Callable[[], None]) -> None:
        def run() -> None:
            try:
                hook()
            except Exception as exc:  # best effort: the process itself is running again
                self.echo(f"[supervisor] {name} restart hook failed: {exc}")

        threading.Thread(target=run, name=f"{name}-restart-hook", daemon=True).start()

    def stop_one(self, name: str, *, timeout: float = 10.0) -> None:
        """Stop a process for good (it is not restarted)."""
        with self._lock:
            entry = self.running.pop(name, None)
            self._write_state()
        if entry:
            _terminate([entry], timeout=timeout)

    def stop(self, *, timeout: float = 10.0, names: list[str] | None = None) -> None:
        """Stop everything (or ``names``), newest first, so apps go before the servers they use."""
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=2)
        with self._lock:
            entries = [self.running.pop(name) for name in reversed(list(self.running)) if not names or name in names]
        apps = [e for e in entries if not e.spec.name.startswith("infra-")]
        infra = [e for e in entries if e.spec.name.startswith("infra-")]
        _terminate(apps, timeout=timeout)
        _terminate(infra, timeout=timeout)
        self._write_state()

    def _write_state(self) -> None:
        if self.state_file:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_suffix(".tmp")
            tmp.write_text(json.dumps({name: e.popen.pid for name, e in self.running.items()}, indent=1))
            tmp.replace(self.state_file)


def _terminate(entries: list[_Running], *, timeout: float) -> None:
    for entry in entries:
        _signal_group(entry.popen, entry.spec.stop_signal)
    deadline = time.monotonic() + timeout
    for entry in entries:
        try:
            entry.popen.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"[supervisor] {entry.spec.name} ignored SIGTERM; killing", file=sys.stderr)
        _signal_group(entry.popen, signal.SIGKILL)  # also reaps grandchildren that outlived their parent
        try:
            entry.popen.wait(5)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(popen: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(popen.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass
