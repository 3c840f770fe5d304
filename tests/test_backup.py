"""make backup / make restore (decision 0015): every service database dumped from a running stack,
restored into a fresh data directory, and the system started on it has the same people, the same
money, and reconciles clean."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import httpx
import pytest

from tests.people import Person
from walletkit.devstack.backup import backup_create, backup_restore
from walletkit.devstack.stack import REPO_ROOT, Stack


def reconcile_exit_code(stack: Stack) -> subprocess.CompletedProcess:
    """``manage.py reconcile --full`` once against ``stack`` (all history, as after a restore):
    exit 0 clean, 1 findings, 2 failed."""
    return subprocess.run(
        [sys.executable, "manage.py", "reconcile", "--full"],
        cwd=REPO_ROOT / "ledger_service",
        env={**os.environ, **stack.config.service_env("ledger_service")},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_backup_restored_into_a_fresh_data_dir_has_the_same_money_and_reconciles_clean(
    stack: Stack, gateway_url: str, stack_launcher, tmp_path
):
    payer, payee = Person.sign_up(gateway_url, prefix="backup"), Person.sign_up(gateway_url, prefix="backup")
    payer.fund("50.00")
    paid = payer.pay(payee.wallet_id, "12.34")
    assert payer.wait_final(paid.json()["id"])["status"] == "SUCCESS"

    dumps = backup_create(config=stack.config, backups_dir=tmp_path / "backups")
    restored_dir = tmp_path / "restored"
    backup_restore(dumps=dumps, data_dir=restored_dir)
    restored = stack_launcher(restored_dir)
    try:
        again = Person(client=httpx.Client(base_url=restored.config.url("gateway_web") + "/api/v1", timeout=30),
                       username=payer.username, wallet_id=payer.wallet_id)  # fmt: skip
        again.log_in()  # the gateway's users came back (the JWT keys are new: a fresh sign-in)
        assert again.balance() == Decimal("37.66")
        assert again.transaction(paid.json()["id"])["status"] == "SUCCESS"
        reconciled = reconcile_exit_code(restored)
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
    finally:
        restored.stop()

    with pytest.raises(FileExistsError):  # never over an existing cluster
        backup_restore(dumps=dumps, data_dir=restored_dir)
