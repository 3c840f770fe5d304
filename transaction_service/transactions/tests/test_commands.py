from __future__ import annotations

import os
import signal
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from transactions.models import Transaction
from transactions.tests.factories import TransactionFactory, age
from transactions.tests.fakes import hold_created
from walletkit.testing.waiting import wait_until


@pytest.fixture
def restore_signal_handlers():
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


@pytest.mark.django_db(transaction=True)
def test_run_sweeper_drives_due_sagas_until_sigterm(fake_wallet, restore_signal_handlers):
    fake_wallet.route("POST", "/holds", hold_created)
    tx = age(TransactionFactory(), seconds=11)

    def terminate_once_reserved():
        try:
            wait_until(lambda: Transaction.objects.get(id=tx.id).status == "RESERVED", timeout=20, message="RESERVED")
        finally:
            connection.close()
            os.kill(os.getpid(), signal.SIGTERM)  # even on a timeout, so the command always returns

    watcher = threading.Thread(target=terminate_once_reserved, daemon=True)
    watcher.start()
    call_command("run_sweeper")  # returns only once SIGTERM was handled

    watcher.join(timeout=5)
    assert Transaction.objects.get(id=tx.id).status == "RESERVED"
