"""Reconciliation runs, what each found, and every repair staff made (a repair never rewrites history)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ReconciliationRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "RUNNING"
        CLEAN = "CLEAN"
        FINDINGS = "FINDINGS"
        FAILED = "FAILED"  # a service did not answer: nothing can be said, which is not "clean"

    class Mode(models.TextChoices):
        FULL = "FULL"  # every transaction and entry ever
        INCREMENTAL = "INCREMENTAL"  # what changed since window_start, and the previous run's defects

    started_at = models.DateTimeField()
    mode = models.CharField(max_length=11, choices=Mode.choices, default=Mode.FULL)
    # An incremental run's window: transactions changed and entries created at or after it (decision 0020).
    window_start = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=100)  # "cron", "command", "staff:<id>"
    # Per currency: ledger wallet accounts, wallet balances, in flight, external, suspense.
    totals = models.JSONField(default=dict)
    counts = models.JSONField(default=dict)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "reconciliation_run"
        indexes = [models.Index(fields=["-started_at"], name="reconciliation_run_recent")]

    def __str__(self) -> str:
        return f"run {self.id} {self.status}"


class Finding(models.Model):
    class Severity(models.TextChoices):
        CRITICAL = "CRITICAL"  # money does not add up
        WARNING = "WARNING"  # something stopped moving or was set aside; money may still be right

    class Status(models.TextChoices):
        OPEN = "OPEN"
        RESOLVED = "RESOLVED"

    run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="findings")
    kind = models.CharField(max_length=40)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    # What it is about: wallet id, transaction id, entry id, "<service>:<dead letter id>"...
    subject = models.CharField(max_length=200)
    subject_ids = models.JSONField(default=dict)
    currency = models.CharField(max_length=3, blank=True, default="")
    expected = models.CharField(max_length=100, blank=True, default="")
    actual = models.CharField(max_length=100, blank=True, default="")
    detail = models.TextField(blank=True, default="")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    resolved_by = models.CharField(max_length=100, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True, default="")

    class Meta:
        db_table = "reconciliation_finding"
        ordering = ["id"]  # stored in (kind, subject) order
        constraints = [
            models.UniqueConstraint(fields=["run", "kind", "subject"], name="finding_once_per_run"),
            models.CheckConstraint(
                condition=Q(status="OPEN", resolved_at__isnull=True)
                | Q(status="RESOLVED", resolved_at__isnull=False) & ~Q(resolved_by="") & ~Q(resolution=""),
                name="finding_resolution_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"


class RepairAudit(models.Model):
    """One staff repair: who, when, why, what it was before and after. Never updated, never deleted."""

    class Kind(models.TextChoices):
        RESYNC = "RESYNC"  # the wallet snapshot set to the ledger's figure
        ADJUSTMENT = "ADJUSTMENT"  # an adjusting journal entry appended
        ACKNOWLEDGE = "ACKNOWLEDGE"  # looked at, nothing to move (a dead letter replayed by hand...)

    kind = models.CharField(max_length=11, choices=Kind.choices)
    actor = models.CharField(max_length=100)
    reason = models.TextField()
    finding = models.ForeignKey(Finding, null=True, blank=True, on_delete=models.PROTECT, related_name="repairs")
    wallet_id = models.UUIDField(null=True, blank=True)
    entry_id = models.UUIDField(null=True, blank=True)
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "reconciliation_repair_audit"

    def __str__(self) -> str:
        return f"{self.kind} by {self.actor}"
