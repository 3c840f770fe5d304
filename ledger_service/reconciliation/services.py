"""Every write of reconciliation: runs and their findings, and repairs that never rewrite history.

A repair either appends to the journal (an ADJUSTMENT entry against the currency's SUSPENSE
account) or asks the wallet service to set its snapshot to the ledger's figure (a resync, which the
wallet service audits too). Both leave a RepairAudit row: who, when, why, before, after.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ledger.models import Account, JournalEntry, MovementType, Posting
from ledger.services import accounts_ensure, accounts_lock, system_account_get
from reconciliation import checks, clients
from reconciliation.models import Finding, ReconciliationRun, RepairAudit
from reconciliation.selectors import (
    ZERO,
    Snapshot,
    account_figures,
    posted_read,
    repeatable_read,
    run_window,
    snapshot_take,
)
from walletkit.errors import DomainError, RemoteRefused
from walletkit.http import ServiceUnavailable
from walletkit.money import amount_format

logger = logging.getLogger(__name__)

RUN_LOCK_KEY = 0x7265636F6E63696C  # "reconcil": one run at a time, across processes
RESYNC_ATTEMPTS = 3


def run_execute(*, trigger: str, full: bool = False) -> ReconciliationRun:
    """Take the cut, check it, store the run and its findings. Runs never overlap (advisory lock).

    Incremental (what changed since the previous run) unless ``full`` or a full run is due
    (selectors.run_window, decision 0020). Not atomic as a whole on purpose: the run row is committed
    RUNNING first, so a run that dies (a service down) is still visible, as FAILED, with its error.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [RUN_LOCK_KEY])
    try:
        started_at = timezone.now()
        window = None if full else run_window(now=started_at)
        run = ReconciliationRun.objects.create(
            started_at=started_at, trigger=trigger[:100], window_start=window.since if window else None,
            mode=ReconciliationRun.Mode.INCREMENTAL if window else ReconciliationRun.Mode.FULL,
        )  # fmt: skip
        try:
            snapshot = snapshot_take(window=window)
        except (ServiceUnavailable, OSError) as exc:
            logger.error("reconciliation run failed", extra={"run_id": run.id, "error": str(exc)})
            return _run_fail(run, error=str(exc))
        return _run_record(run, findings=checks.findings_all(snapshot), snapshot=snapshot)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK_KEY])


def _run_fail(run: ReconciliationRun, *, error: str) -> ReconciliationRun:
    run.status, run.error, run.finished_at = ReconciliationRun.Status.FAILED, error[:2000], timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])
    return run


@transaction.atomic
def _run_record(run: ReconciliationRun, *, findings: list[checks.FindingData], snapshot) -> ReconciliationRun:
    Finding.objects.bulk_create(
        [
            Finding(
                run=run, kind=f.kind, severity=f.severity, subject=f.subject[:200], subject_ids=f.subject_ids,
                currency=f.currency, expected=f.expected, actual=f.actual, detail=f.detail,
            )
            for f in findings
        ]
    )  # fmt: skip
    run.totals = checks.totals(snapshot)
    run.counts = {
        "wallets": len(snapshot.wallets),
        "accounts": len(snapshot.accounts),
        "entries": snapshot.entries_checked,
        "success_transactions": snapshot.transactions_checked,
        "in_flight_holds": checks.in_flight_holds(snapshot),
        "findings": len(findings),
        "critical": sum(1 for f in findings if f.severity == checks.CRITICAL),
    }
    run.status = ReconciliationRun.Status.FINDINGS if findings else ReconciliationRun.Status.CLEAN
    run.finished_at = timezone.now()
    run.save(update_fields=["totals", "counts", "status", "finished_at"])
    return run


# --- repairs ------------------------------------------------------------------------------------


def _finding_open(finding_id: int | None) -> Finding | None:
    if finding_id is None:
        return None
    finding = Finding.objects.select_for_update().filter(id=finding_id).first()
    if finding is None:
        raise DomainError("Finding not found.", code="finding_not_found")
    if finding.status != Finding.Status.OPEN:
        raise DomainError("The finding is already resolved.", code="finding_resolved")
    return finding


def _finding_close(finding: Finding | None, *, actor: str, resolution: str) -> None:
    if finding is None:
        return
    finding.status, finding.resolved_by, finding.resolved_at = Finding.Status.RESOLVED, actor, timezone.now()
    finding.resolution = resolution[:2000]
    finding.save(update_fields=["status", "resolved_by", "resolved_at", "resolution"])


@transaction.atomic
def finding_acknowledge(*, finding_id: int, reason: str, actor: str) -> Finding:
    """Nothing to move (a dead letter replayed by hand, a saga ended since): closed with who and why."""
    finding = _finding_open(finding_id)
    RepairAudit.objects.create(
        kind=RepairAudit.Kind.ACKNOWLEDGE, actor=actor, reason=reason, finding=finding,
        before={"status": Finding.Status.OPEN}, after={"status": Finding.Status.RESOLVED},
    )  # fmt: skip
    _finding_close(finding, actor=actor, resolution=f"acknowledged: {reason}")
    return finding


def ledger_figure_for_wallet(*, wallet_id: UUID) -> tuple[Decimal, dict]:
    """The balance the wallet should show now, and the wallet row it was computed against.

    The same cut as a run (reconciliation.selectors), for one wallet: ledger first, in one
    snapshot; then the wallet's page; in-flight movements accounted the same way.
    """

    with transaction.atomic():
        repeatable_read()
        snapshot = Snapshot(taken_at=timezone.now())
        snapshot.accounts = [a for a in account_figures() if a.wallet_id == wallet_id]
        page = clients.wallet_one(
            wallet_id=wallet_id, captured_since=snapshot.taken_at - timedelta(seconds=settings.RECONCILE_CLOCK_MARGIN)
        )
        if page is None:
            raise DomainError("Wallet not found.", code="wallet_not_found")
        [wallet] = page["wallets"]
        snapshot.wallets = [wallet]
        snapshot.wallet_holds = {wallet["id"]: page["holds"]}
        posted_read(snapshot)
    ledger = snapshot.accounts[0].postings if snapshot.accounts else ZERO
    return ledger - checks.in_flight(snapshot, wallet["id"]), wallet


def wallet_resync_from_ledger(
    *, wallet_id: UUID, reason: str, actor: str, finding_id: int | None = None
) -> RepairAudit:
    """Set the wallet snapshot to the ledger's figure, then record the audit here.

    Not one transaction (the wallet is another service): the wallet commits first, with its own audit
    row (WalletResync), so a crash between the two leaves the repair audited on the wallet side.
    ``expected_version`` makes the wallet refuse a figure computed against an older snapshot; then the
    figure is computed again.
    """
    _finding_check(finding_id)
    for _attempt in range(RESYNC_ATTEMPTS):
        figure, wallet = ledger_figure_for_wallet(wallet_id=wallet_id)
        response = clients.wallet_resync(
            wallet_id=wallet_id, balance=figure, expected_version=wallet["version"], reason=reason, actor=actor
        )
        if response.status_code == 409:
            continue
        if response.status_code != 200:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            raise RemoteRefused(
                body.get("detail", f"wallet service answered {response.status_code}"),
                code=body.get("code", "resync_failed"),
            )
        after = response.json()
        return _resync_audit(
            wallet_id=wallet_id, reason=reason, actor=actor, finding_id=finding_id,
            before={"balance": wallet["balance"], "held": wallet["held"], "version": wallet["version"]},
            after={"balance": after["balance"], "held": after["held"], "version": after["version"],
                   "ledger_figure": amount_format(figure)},
        )  # fmt: skip
    raise DomainError("The wallet kept changing; try again.", code="version_conflict")


def _finding_check(finding_id: int | None) -> None:
    if finding_id is not None:
        with transaction.atomic():
            _finding_open(finding_id)


@transaction.atomic
def _resync_audit(*, wallet_id, reason, actor, finding_id, before, after) -> RepairAudit:
    finding = Finding.objects.select_for_update().filter(id=finding_id).first() if finding_id else None
    audit = RepairAudit.objects.create(
        kind=RepairAudit.Kind.RESYNC, actor=actor, reason=reason, finding=finding, wallet_id=wallet_id,
        before=before, after=after,
    )  # fmt: skip
    if finding is not None and finding.status == Finding.Status.OPEN:
        _finding_close(finding, actor=actor, resolution=f"resync: {reason}")
    return audit


@transaction.atomic
def adjustment_post(
    *,
    wallet_id: UUID,
    amount: Decimal,
    reason: str,
    actor: str,
    currency: str | None = None,
    finding_id: int | None = None,
) -> RepairAudit:
    """Append an ADJUSTMENT entry: ``amount`` (signed) onto the wallet's account, the opposite onto
    the currency's SUSPENSE account. Balanced like every entry; nothing existing is touched.

    Not published on ledger.events: its consumers follow sagas (a LedgerPosted names a transaction
    and a hold) and an adjustment has neither. The wallet follows through a resync instead.
    """
    finding = _finding_open(finding_id)
    if amount == ZERO:
        raise DomainError("An adjustment moves a non-zero amount.", code="invalid_amount")
    existing = Account.objects.filter(wallet_id=wallet_id).first()
    currency = existing.currency if existing else (currency or (finding.currency if finding else ""))
    if not currency:
        raise DomainError("The wallet has no ledger account: give its currency.", code="currency_required")
    wallet_account = accounts_ensure(wallet_ids=[wallet_id], currency=currency)[wallet_id]
    suspense = system_account_get(kind=Account.Kind.SUSPENSE, currency=currency)
    # The same lock order as every posting (account id ascending): no deadlock with a saga's entry.
    locked = accounts_lock([wallet_account.id, suspense.id])
    wallet_account, suspense = locked[wallet_account.id], locked[suspense.id]
    if wallet_account.balance + amount < 0:
        raise DomainError(
            "The adjustment would overdraw the wallet's account.", code="insufficient_funds",
        )  # fmt: skip
    before = {"wallet_account": amount_format(wallet_account.balance), "suspense": amount_format(suspense.balance)}
    now = timezone.now()
    entry = JournalEntry.objects.create(transaction_id=uuid.uuid4(), type=MovementType.ADJUSTMENT, created_at=now)
    Posting.objects.bulk_create(
        [
            Posting(entry=entry, account=wallet_account, amount=amount, currency=currency, created_at=now),
            Posting(entry=entry, account=suspense, amount=-amount, currency=currency, created_at=now),
        ]
    )
    wallet_account.balance += amount
    suspense.balance -= amount
    wallet_account.save(update_fields=["balance"])
    suspense.save(update_fields=["balance"])
    audit = RepairAudit.objects.create(
        kind=RepairAudit.Kind.ADJUSTMENT, actor=actor, reason=reason, finding=finding, wallet_id=wallet_id,
        entry_id=entry.id, before=before,
        after={"wallet_account": amount_format(wallet_account.balance), "suspense": amount_format(suspense.balance),
               "amount": amount_format(amount), "currency": currency},
    )  # fmt: skip
    _finding_close(finding, actor=actor, resolution=f"adjusting entry {entry.id} of {amount_format(amount)}: {reason}")
    return audit
