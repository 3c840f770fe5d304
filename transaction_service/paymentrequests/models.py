import uuid

from django.db import models
from django.db.models import Q


class RequestStatus(models.TextChoices):
    PENDING = "PENDING"  # also while being paid: pay_key is set until its transfer succeeds or fails
    PAID = "PAID"
    DECLINED = "DECLINED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class PaymentRequest(models.Model):
    """The requester asks the payer for ``amount`` into ``to_wallet_id``; paying it is one transfer.

    Usernames are copied from the gateway (it owns users) so every shape and push can name both people.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    requester_id = models.BigIntegerField()
    requester_username = models.CharField(max_length=150)
    payer_id = models.BigIntegerField()
    payer_username = models.CharField(max_length=150)
    to_wallet_id = models.UUIDField()
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    currency = models.CharField(max_length=3)
    note = models.CharField(max_length=140, blank=True, default="")
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    expires_at = models.DateTimeField(null=True, blank=True)
    # The payment in progress or done: the payer's Idempotency-Key and the transfer's own key (one per
    # attempt, so a refused attempt can be followed by another); cleared when the transfer FAILS.
    pay_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    transfer_key = models.CharField(max_length=80, null=True, blank=True, unique=True)  # noqa: DJ001
    pay_started_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    transaction = models.ForeignKey(
        "transactions.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    last_failure_reason = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "payment_request"
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_request_amount_positive"),
            models.CheckConstraint(condition=~Q(requester_id=models.F("payer_id")), name="payment_request_two_people"),
        ]
        indexes = [
            models.Index(fields=["payer_id", "-created_at", "-id"], name="payment_request_payer"),
            models.Index(fields=["requester_id", "-created_at", "-id"], name="payment_request_requester"),
            models.Index(fields=["expires_at"], name="payment_request_expiry", condition=Q(status="PENDING")),
        ]

    def __str__(self) -> str:
        return f"payment request {self.id} {self.status}"
