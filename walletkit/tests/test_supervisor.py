"""The devstack supervisor: a process that dies is restarted, and its restart hook runs."""

from __future__ import annotations

import os
import signal
import sys
import threading

from walletkit.devstack.supervisor import ProcessSpec, Supervisor
from walletkit.testing.waiting import wait_until


def test_a_killed_process_is_restarted_and_its_restart_hook_runs(tmp_path):
    hooked = threading.Event()
    supervisor = Supervisor(log_dir=tmp_path, echo=lambda *_: None)
    spec = ProcessSpec(
        name="sleeper", argv=[sys.executable, "-c", "import time; time.sleep(600)"], on_restart=hooked.set
    )
    supervisor.start(spec)
    supervisor.watch_in_background()
    try:
        first = supervisor.pid("sleeper")
        assert not hooked.is_set()  # the first start is no restart
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: supervisor.pid("sleeper") != first, timeout=15, message="restarted")
        wait_until(hooked.is_set, timeout=15, message="restart hook ran")
    finally:
        supervisor.stop(timeout=5)
