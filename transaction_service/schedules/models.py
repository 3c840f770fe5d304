import uuid

from django.db import models
from django.db.models import F, Q


class Repeat(models.TextChoices):
    NONE = "none"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class ScheduleStatus(models.TextChoices):
    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"
    COMPLETED = "COMPLETED"  # no run is left (a one-off that ran, or past the end date)


class RunStatus(models.TextChoices):
    PENDING = "PENDING"  # no transaction yet (due, or being paid right now)
    ATTACHED = "ATTACHED"  # its transaction exists; the transaction's status is the run's
    FAILED = "FAILED"  # refused before any transaction could be made (failure_reason says why)
    SKIPPED = "SKIPPED"  # never paid: the schedule was paused or cancelled before it started


class ScheduledTransfer(models.Model):
    """A transfer repeated on dates computed from start_date (schedules.dates). Owned by the payer."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner_id = models.BigIntegerField()
    from_wallet_id = models.UUIDField()
    to_wallet_id = models.UUIDField()
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    currency = models.CharField(max_length=3)
    note = models.CharField(max_length=140, blank=True, default="")
    repeat = models.CharField(max_length=8, choices=Repeat.choices)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=ScheduleStatus.choices, default=ScheduleStatus.ACTIVE)
    # The next run not yet recorded: its index (schedules.dates.run_date) and date; null when none is left.
    next_index = models.PositiveIntegerField(default=0)
    next_run_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "scheduled_transfer"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="scheduled_transfer_amount_positive"),
            models.CheckConstraint(
                condition=~Q(from_wallet_id=F("to_wallet_id")), name="scheduled_transfer_two_wallets"
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="scheduled_transfer_end_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["owner_id", "-created_at"], name="scheduled_transfer_owner"),
            models.Index(fields=["next_run_on"], name="scheduled_transfer_due", condition=Q(status="ACTIVE")),
        ]

    def __str__(self) -> str:
        return f"schedule {self.id} {self.repeat} {self.status}"


class ScheduledRun(models.Model):
    """One occurrence of a schedule. The unique (schedule, run_on) row is the claim: a date gets one run
    however many schedulers see it due, and its transaction's idempotency key is derived from the same
    pair, so a run retried after a crash replays its first transaction instead of paying again."""

    schedule = models.ForeignKey(ScheduledTransfer, on_delete=models.CASCADE, related_name="runs")
    run_on = models.DateField()
    # Fixed when the run is recorded: a retry must send the same body, or its key would conflict (409).
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.PENDING)
    failure_reason = models.CharField(max_length=64, blank=True, default="")
    transaction = models.ForeignKey(
        "transactions.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The scheduler's lease: a PENDING run is (re)tried once this has passed.
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "scheduled_run"
        constraints = [models.UniqueConstraint(fields=["schedule", "run_on"], name="scheduled_run_once_a_date")]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="scheduled_run_pending", condition=Q(status="PENDING")),
        ]

    def __str__(self) -> str:
        return f"run {self.schedule_id} {self.run_on} {self.status}"

    @property
    def idempotency_key(self) -> str:
        return f"schedule:{self.schedule_id}:{self.run_on.isoformat()}"
