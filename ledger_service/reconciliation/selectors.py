"""Reads of reconciliation: the ledger's own figures, and the consistent cut across services.

The cut (why a run during live traffic reports no false drift)
--------------------------------------------------------------
A wallet's balance B is a snapshot the wallet service derives from the ledger's entries L: the
ledger posts an entry (t_e), then, one event later, the wallet captures the hold (t_c > t_e).
Comparing B with L read at two different instants would report every movement between them.

1. The ledger is read FIRST, in one REPEATABLE READ READ ONLY transaction (instant t0): account
   sums, and later, in that same snapshot, which transactions have an entry (``posted``).
2. Then the wallet service, page by page; each page is itself one snapshot of the wallet
   database (instant t1 > t0) holding the wallets AND the holds touching them: RESERVED ones and
   those CAPTURED since t0 minus a clock margin.
3. For a wallet W, every transaction T that touches it is in exactly one of these cases:
   - captured at t1 and posted at t0: in B and in L — nothing to correct;
   - RESERVED at t1 and posted at t0: in L, not yet in B — in flight, corrected;
   - RESERVED at t1 and not posted at t0: in neither;
   - CAPTURED at t1 but not posted at t0 (posted after t0 and captured before t1): in B, not in
     L — in flight, corrected. A capture follows its entry's commit, so such a hold was updated
     after t0: the margin only absorbs clock skew between hosts.
   So  expected(W) = L(W) − Σ effect(RESERVED ∩ posted) + Σ effect(CAPTURED ∖ posted),
   effect being −amount on the sender and +amount on the receiver. B ≠ expected(W) is drift.
   Entries with no hold at all (an orphan) and holds settled against the ledger's decision are not
   in any in-flight set, so they show as drift, as they should.
4. ``held`` is compared with the sum of the wallet's RESERVED outgoing holds from the same wallet
   snapshot: both sides of that check come from one database at one instant.
5. Transactions: SUCCESS transactions are paged at t1 > t0. A SUCCESS with no entry at t0 may have
   been posted after t0, so it is looked up again outside the snapshot (SUCCESS follows the
   entry's commit, so a fresh read sees it). An entry whose transaction is not SUCCESS at t1 is
   looked up again; RESERVED/INITIATED means its LedgerPosted is still on its way (in flight).

Incremental runs (decision 0020): the same cut and rules, over a window
-----------------------------------------------------------------------
6. A journal entry never changes (append-only trigger) and a SUCCESS never moves, so a (transaction,
   entry) pair checked once stays checked; what can newly disagree is a transaction whose row changed
   or an entry that was created. An incremental run reads those at or after W = the previous finished
   run's start − RECONCILE_CLOCK_MARGIN: transactions of any status with ``updated_at ≥ W`` (a FAILED
   one with an older entry is a finding), and entries with ``created_at ≥ W`` — then, by id, the entry
   of every such transaction and the transaction of every such entry, whatever their age. Both
   timestamps are taken before their row commits; a row committed after the previous run read past
   it was stamped at most (commit delay + clock skew) before that run started, which the margin
   covers. So every change is seen by the first run whose snapshot follows its commit, or the next.
7. The previous run's transaction findings (and unbalanced entries) are checked again by id, so a
   defect stays reported, run after run, until it is gone — as a full run would report it.
8. Account sums and wallets are read whole every run (0.3 s at a million postings: decision 0020).
   What no window sees — a row edited by hand with its timestamp left old, a commit later than the
   margin — the full run sees: the first run, ``reconcile --full``, staff's runs, and every
   RECONCILE_FULL_EVERY seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from ledger.models import Account, JournalEntry, MovementType
from ledger.selectors import repeatable_read  # noqa: F401 (reconciliation.services takes it from here)
from reconciliation import clients
from reconciliation.models import ReconciliationRun

ZERO = Decimal(0)
# The findings about a transaction and its entry (subject: the transaction id), carried into the next run.
ENTRY_FINDINGS = (
    "SUCCESS_WITHOUT_ENTRY", "ENTRY_WITHOUT_SUCCESS", "ENTRY_WITHOUT_TRANSACTION", "ENTRY_AMOUNT_MISMATCH",
)  # fmt: skip
CHUNK = 1000  # ids per IN (...) / lookup


@dataclass(frozen=True)
class Window:
    """An incremental run's scope: changes at or after ``since``, and the previous run's defects."""

    since: datetime
    transaction_ids: frozenset[str] = frozenset()
    entry_ids: frozenset[str] = frozenset()  # unbalanced ones


@dataclass
class AccountFigure:
    id: UUID
    kind: str
    wallet_id: UUID | None
    currency: str
    postings: Decimal  # the truth: the sum of its postings
    cached: Decimal  # Account.balance, kept for the overdraft check


@dataclass
class Snapshot:
    taken_at: datetime
    accounts: list[AccountFigure] = field(default_factory=list)
    unbalanced_entries: list[dict] = field(default_factory=list)
    wallets: list[dict] = field(default_factory=list)
    # Wallet id → the holds touching it, from the SAME page (snapshot) as the wallet's balance: a
    # transfer's hold read again on another page may have moved on since.
    wallet_holds: dict[str, list[dict]] = field(default_factory=dict)
    posted: set[str] = field(default_factory=set)  # hold transaction ids with an entry at t0
    success_without_entry: list[dict] = field(default_factory=list)
    entries_not_success: list[dict] = field(default_factory=list)  # entry + the transaction now (or None)
    amount_mismatches: list[dict] = field(default_factory=list)
    entries_checked: int = 0
    transactions_checked: int = 0
    stuck_sagas: list[dict] = field(default_factory=list)
    anomalies: list[dict] = field(default_factory=list)
    dead_letters: dict[str, list[dict]] = field(default_factory=dict)


def account_figures() -> list[AccountFigure]:
    rows = Account.objects.annotate(total=Sum("postings__amount")).order_by("id")
    return [AccountFigure(a.id, a.kind, a.wallet_id, a.currency, a.total or ZERO, a.balance) for a in rows]


def entries_unbalanced(*, window: Window | None = None) -> list[dict]:
    """Entries whose postings do not sum to zero per currency, or number fewer than two.

    The commit-time trigger refuses both; this proves it held (and catches a trigger dropped by hand).
    With a window: the entries created in it and the ones found unbalanced before (the trigger checks
    every posting's entry at commit, so an older entry can only break with the trigger gone: the full
    run's job).
    """
    where, params = "", []
    if window is not None:
        where = "WHERE e.created_at >= %s OR e.id = ANY(%s::uuid[])"
        params = [window.since, sorted(window.entry_ids)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT e.id, e.transaction_id, COALESCE(SUM(p.amount), 0), COUNT(p.id), COUNT(DISTINCT p.currency)
            FROM ledger_journal_entry e LEFT JOIN ledger_posting p ON p.entry_id = e.id
            {where}
            GROUP BY e.id
            HAVING COUNT(p.id) < 2 OR COUNT(DISTINCT p.currency) <> 1 OR COALESCE(SUM(p.amount), 0) <> 0
            ORDER BY e.id
            """,  # noqa: S608 (no value in the text: ``where`` is one of two constants)
            params,
        )
        return [
            {"entry_id": str(r[0]), "transaction_id": str(r[1]), "sum": r[2], "postings": r[3], "currencies": r[4]}
            for r in cursor.fetchall()
        ]


def entries_by_transaction(
    *, transaction_ids: list[str] | None = None, created_since: datetime | None = None
) -> dict[str, dict]:
    """Saga entries (not staff adjustments) with the amount they moved (their positive postings):
    all of them, those of ``transaction_ids``, or those created at or after ``created_since``."""
    if transaction_ids is not None:
        found: dict[str, dict] = {}
        for start in range(0, len(transaction_ids), CHUNK):
            found |= _entries_moved(Q(transaction_id__in=transaction_ids[start : start + CHUNK]))
        return found
    return _entries_moved(Q(created_at__gte=created_since) if created_since is not None else Q())


def _entries_moved(condition: Q) -> dict[str, dict]:
    entries = JournalEntry.objects.exclude(type=MovementType.ADJUSTMENT).filter(condition)
    rows = entries.annotate(moved=Sum("postings__amount", filter=Q(postings__amount__gt=0))).values_list(
        "id", "transaction_id", "type", "moved"
    )
    return {str(tx): {"entry_id": str(eid), "type": kind, "amount": moved or ZERO} for eid, tx, kind, moved in rows}


def snapshot_take(*, window: Window | None = None) -> Snapshot:
    """Everything a run checks, read at the cut described in the module docstring: all of it, or
    (``window``) what changed in the window (points 6 and 7)."""
    with transaction.atomic():
        repeatable_read()
        snapshot = Snapshot(taken_at=timezone.now())
        snapshot.accounts = account_figures()
        snapshot.unbalanced_entries = entries_unbalanced(window=window)
        _wallets_read(snapshot)
        posted_read(snapshot)
        if window is None:
            transactions, entries = clients.transactions_success(), entries_by_transaction()
        else:
            transactions, entries = _window_read(window)
        success = _transactions_compare(snapshot, entries, transactions)
    _transactions_recheck(snapshot, entries, success)
    _operations_read(snapshot)
    return snapshot


def _window_read(window: Window) -> tuple[list[dict], dict[str, dict]]:
    """The transactions changed in the window (any status) and the previous run's defective ones, as
    they are now; the entries of all of them, whatever their age, and every entry created in the window.
    A transaction listed twice (it changed while the pages were read): the later, newer, one wins."""
    changed = {tx["id"]: tx for tx in clients.transactions_changed(since=window.since)}
    carried = window.transaction_ids - changed.keys()
    changed |= clients.transactions_lookup(ids=[UUID(tx_id) for tx_id in sorted(carried)])
    entries = entries_by_transaction(transaction_ids=sorted(changed.keys() | carried))
    entries |= entries_by_transaction(created_since=window.since)
    return [tx for tx in changed.values() if tx["status"] == "SUCCESS"], entries


def _wallets_read(snapshot: Snapshot) -> None:
    captured_since = snapshot.taken_at - timedelta(seconds=settings.RECONCILE_CLOCK_MARGIN)
    for page in clients.wallet_pages(captured_since=captured_since):
        snapshot.wallets.extend(page["wallets"])
        on_page = {wallet["id"] for wallet in page["wallets"]}
        for hold in page["holds"]:
            for wallet_id in {hold["from_wallet_id"], hold["to_wallet_id"]} & on_page:
                snapshot.wallet_holds.setdefault(wallet_id, []).append(hold)


def posted_read(snapshot: Snapshot) -> None:
    ids = sorted({hold["transaction_id"] for holds in snapshot.wallet_holds.values() for hold in holds})
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = JournalEntry.objects.filter(transaction_id__in=chunk).values_list("transaction_id", flat=True)
        snapshot.posted.update(str(tx) for tx in found)


def _transactions_compare(
    snapshot: Snapshot, entries: dict[str, dict], transactions: Iterable[dict]
) -> dict[str, dict]:
    success: dict[str, dict] = {}
    for tx in transactions:
        success[tx["id"]] = tx
        entry = entries.get(tx["id"])
        if entry is not None:
            _amount_compare(snapshot, tx, entry)
    snapshot.entries_checked = len(entries)
    snapshot.transactions_checked = len(success)
    return success


def _amount_compare(snapshot: Snapshot, tx: dict, entry: dict) -> None:
    if Decimal(tx["amount"]) != entry["amount"]:
        snapshot.amount_mismatches.append({"transaction": tx, **entry})


def _transactions_recheck(snapshot: Snapshot, entries: dict[str, dict], success: dict[str, dict]) -> None:
    """Outside the ledger snapshot, on purpose: see point 5 of the module docstring.

    A pair that agrees only now is compared here too (amounts are final on both sides): an
    incremental run may not see it again.
    """
    missing = [tx_id for tx_id in success if tx_id not in entries]
    if missing:
        found_now = entries_by_transaction(transaction_ids=missing)
        for tx_id in missing:
            if tx_id in found_now:
                _amount_compare(snapshot, success[tx_id], found_now[tx_id])
            else:
                snapshot.success_without_entry.append(success[tx_id])
    unexplained = [UUID(tx_id) for tx_id in entries if tx_id not in success]
    if unexplained:
        now = clients.transactions_lookup(ids=unexplained)
        for tx_id in sorted(map(str, unexplained)):
            tx = now.get(tx_id)
            if tx is not None and tx["status"] == "SUCCESS":
                _amount_compare(snapshot, tx, entries[tx_id])  # succeeded since the page was read
            elif tx is None or tx["status"] not in ("RESERVED", "INITIATED"):  # those: in flight
                snapshot.entries_not_success.append({"transaction_id": tx_id, **entries[tx_id], "transaction": tx})


def _operations_read(snapshot: Snapshot) -> None:
    snapshot.stuck_sagas = clients.stuck_sagas()["results"]
    snapshot.anomalies = list(clients.anomalies())
    snapshot.dead_letters = {service: dead_letters_of(service) for service in clients.WORKER_SERVICES}


def dead_letters_of(service: str) -> list[dict]:
    if service == settings.SERVICE_NAME:
        from walletkit.inbox.models import DeadLetter

        fields = ("id", "consumer", "topic", "partition", "offset", "key", "error", "attempts", "created_at")
        return list(DeadLetter.objects.order_by("id").values(*fields))
    return list(clients.dead_letters(service=service))


def run_list(*, before: int | None, limit: int) -> tuple[list[ReconciliationRun], int | None]:
    runs = ReconciliationRun.objects.order_by("-id")
    if before is not None:
        runs = runs.filter(id__lt=before)
    page = list(runs[: limit + 1])
    return page[:limit], page[limit - 1].id if len(page) > limit else None


def run_get(*, run_id: int) -> ReconciliationRun | None:
    return ReconciliationRun.objects.prefetch_related("findings").filter(id=run_id).first()


def run_latest_finished() -> ReconciliationRun | None:
    return ReconciliationRun.objects.exclude(status__in=["RUNNING", "FAILED"]).order_by("-id").first()


def run_window(*, now: datetime) -> Window | None:
    """The next run's window, or None when it must be full: no finished full run yet, or the last one
    started RECONCILE_FULL_EVERY seconds ago or more (0: always full).

    The window starts at the previous finished run's start minus the clock margin (module docstring,
    point 6): a FAILED run checked nothing, so it does not move the window. Runs never overlap
    (services.RUN_LOCK_KEY), so the previous run is the latest.
    """
    if settings.RECONCILE_FULL_EVERY <= 0:
        return None
    finished = ReconciliationRun.objects.filter(status__in=[ReconciliationRun.Status.CLEAN,
                                                            ReconciliationRun.Status.FINDINGS])  # fmt: skip
    last_full = finished.filter(mode=ReconciliationRun.Mode.FULL).order_by("-id").first()
    if last_full is None or last_full.started_at <= now - timedelta(seconds=settings.RECONCILE_FULL_EVERY):
        return None
    previous = finished.order_by("-id").first()
    defects = previous.findings.filter(kind__in=[*ENTRY_FINDINGS, "ENTRY_UNBALANCED"]).values_list("kind", "subject")
    return Window(
        since=previous.started_at - timedelta(seconds=settings.RECONCILE_CLOCK_MARGIN),
        transaction_ids=frozenset(subject for kind, subject in defects if kind in ENTRY_FINDINGS),
        entry_ids=frozenset(subject for kind, subject in defects if kind == "ENTRY_UNBALANCED"),
    )
