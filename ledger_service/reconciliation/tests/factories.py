"""factory_boy factories for reconciliation runs and their findings (the ledger's own rows are made
through its services: tests/conftest.py's ``deposit`` and ``transfer``)."""

from __future__ import annotations

import factory
from django.utils import timezone

from reconciliation.models import Finding, ReconciliationRun


class ReconciliationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReconciliationRun

    started_at = factory.LazyFunction(timezone.now)
    trigger = "test"


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    run = factory.SubFactory(ReconciliationRunFactory)
    kind = "stuck"
    severity = Finding.Severity.WARNING
    subject = factory.Sequence(lambda n: f"subject-{n}")
