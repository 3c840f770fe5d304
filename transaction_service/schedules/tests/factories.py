from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import factory

from schedules.dates import today_utc
from schedules.models import ScheduledTransfer


class ScheduledTransferFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScheduledTransfer

    owner_id = 1
    from_wallet_id = factory.LazyFunction(uuid.uuid4)
    to_wallet_id = factory.LazyFunction(uuid.uuid4)
    amount = Decimal("5")
    currency = "USD"
    repeat = "daily"
    start_date = factory.LazyFunction(today_utc)
    next_run_on = factory.LazyAttribute(lambda schedule: schedule.start_date)


def days_ago(days: int):
    return today_utc() - timedelta(days=days)
