"""The whole system comes up, heals itself when a process dies, and goes away without a trace."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from pathlib import Path

import httpx
import pytest

from walletkit.devstack.stack import SERVICES, Stack
from walletkit.testing.waiting import wait_until


def _get(url: str) -> int:
    try:
        return httpx.get(url, timeout=3).status_code
    except httpx.HTTPError:
        return 0


def all_ready(stack: Stack) -> bool:
    return all(_get(stack.config.url(folder) + "/readyz") == 200 for folder in SERVICES)


def process_alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def session_members(session_ids: set[int]) -> set[int]:
    """Every live process in one of these sessions (a supervised child and all it forked)."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        state, session = fields[0], int(fields[3])
        if session in session_ids and state != "Z":
            members.add(int(entry.name))
    return members


@pytest.mark.parametrize("folder", list(SERVICES))
@pytest.mark.parametrize("probe", ["healthz", "readyz"])
def test_every_service_answers_its_probes(stack, folder, probe):
    response = httpx.get(f"{stack.config.url(folder)}/{probe}", timeout=5)

    assert response.status_code == 200, response.text
    if probe == "healthz":
        assert response.json()["service"] == SERVICES[folder][0]
    else:
        assert response.json()["checks"] == {"database": True, "broker": True}


@pytest.mark.parametrize(
    "process",
    [
        "wallet-relay",  # an outbox relay
        "ledger-consumer",  # a consumer
        "wallet-web",  # a gunicorn web process (master and its workers)
        "gateway-web",  # the uvicorn web process
    ],
)
def test_killed_process_is_restarted_and_the_stack_is_ready_again(stack, process):
    old_pid = stack.supervisor.pids()[process]

    os.kill(old_pid, signal.SIGKILL)

    new_pid = wait_until(
        lambda: (pid := stack.supervisor.pids()[process]) != old_pid and process_alive(pid) and pid,
        timeout=30,
        message=f"{process} restarted",
    )
    assert not process_alive(old_pid)
    wait_until(lambda: all_ready(stack), timeout=60, interval=0.2, message="every /readyz is 200 again")
    assert process_alive(new_pid)
    assert stack.supervisor.pids()[process] == new_pid, f"{process} kept dying after its restart"


def test_stop_leaves_no_process_behind_and_frees_every_port(stack_launcher):
    data_dir = Path(tempfile.mkdtemp(prefix="wallet-e2e-stop-"))
    own = stack_launcher(data_dir)
    try:
        supervised = set(own.supervisor.pids().values())
        members = session_members(supervised)
        ports = [own.config.port(folder) for folder in SERVICES]
        ports += [own.config.postgres_port, own.config.broker_port, own.config.redis_port]
    finally:
        own.stop()

    assert supervised <= members
    assert len(members) > len(supervised), "gunicorn workers and postgres backends are in the sessions too"
    assert {pid for pid in members if process_alive(pid)} == set()
    assert session_members(supervised) == set()
    assert [port for port in ports if _listening(port)] == []
    shutil.rmtree(data_dir, ignore_errors=True)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0
