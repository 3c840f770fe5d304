"""Repairs on the real database: only appended rows, always audited."""

import uuid
from decimal import Decimal

import pytest
from django.db import connection

from ledger.models import JournalEntry, Posting
from ledger.selectors import account_balance
from ledger.tests.conftest import deposit
from reconciliation import services
from reconciliation.models import Finding, RepairAudit
from reconciliation.tests.factories import FindingFactory
from walletkit.errors import DomainError

pytestmark = pytest.mark.django_db
W = uuid.uuid4()


def finding_for(wallet_id) -> Finding:
    return FindingFactory(
        kind="WALLET_BALANCE_DRIFT", severity="CRITICAL", subject=str(wallet_id),
        subject_ids={"wallet_id": str(wallet_id)}, currency="EUR", expected="10.0000", actual="12.0000",
    )  # fmt: skip


def test_adjustment_appends_a_balanced_entry_against_suspense_and_audits():
    deposit(W, "10")
    rows_before = set(Posting.objects.values_list("id", "amount", "account_id", "entry_id"))
    finding = finding_for(W)

    audit = services.adjustment_post(
        wallet_id=W, amount=Decimal("2"), reason="lost deposit event", actor="staff:1", finding_id=finding.id
    )

    entry = JournalEntry.objects.get(id=audit.entry_id)
    assert entry.type == "ADJUSTMENT"
    postings = {p.account.kind: p.amount for p in entry.postings.select_related("account")}
    assert postings == {"WALLET": Decimal("2"), "SUSPENSE": Decimal("-2")}
    assert account_balance(wallet_id=W) == Decimal("12")
    assert rows_before <= set(Posting.objects.values_list("id", "amount", "account_id", "entry_id"))
    assert (audit.before["wallet_account"], audit.after["wallet_account"]) == ("10.0000", "12.0000")
    finding.refresh_from_db()
    assert finding.status == "RESOLVED" and finding.resolved_by == "staff:1"
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the commit-time balance trigger passes


def test_adjustment_never_overdraws_and_changes_nothing_when_refused():
    deposit(W, "1")
    with pytest.raises(DomainError) as refused:
        services.adjustment_post(wallet_id=W, amount=Decimal("-5"), reason="r", actor="staff:1")
    assert refused.value.code == "insufficient_funds"
    assert not JournalEntry.objects.filter(type="ADJUSTMENT").exists() and not RepairAudit.objects.exists()


def test_a_resolved_finding_cannot_be_resolved_again():
    finding = finding_for(W)
    services.finding_acknowledge(finding_id=finding.id, reason="seen", actor="staff:2")
    with pytest.raises(DomainError) as refused:
        services.finding_acknowledge(finding_id=finding.id, reason="again", actor="staff:2")
    assert refused.value.code == "finding_resolved"
    assert RepairAudit.objects.filter(finding=finding, kind="ACKNOWLEDGE").count() == 1


def test_the_journal_refuses_rewriting_an_adjustment():
    deposit(W, "3")
    audit = services.adjustment_post(wallet_id=W, amount=Decimal("1"), reason="r", actor="staff:1")
    with pytest.raises(Exception, match="append-only"):
        Posting.objects.filter(entry_id=audit.entry_id).update(amount=Decimal("9"))
