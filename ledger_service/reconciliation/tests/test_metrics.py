"""Reconciliation findings on /metrics (deploy/prometheus/alerts.yml alerts on them): the latest
finished run's open findings by severity, and when it finished."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from reconciliation.tests.factories import FindingFactory, ReconciliationRunFactory
from walletkit.metrics import metrics_text

pytestmark = pytest.mark.django_db


def test_the_latest_finished_runs_open_findings_are_gauges_by_severity():
    now = timezone.now()
    older = ReconciliationRunFactory(
        started_at=now - timedelta(minutes=2), finished_at=now - timedelta(minutes=1), status="FINDINGS"
    )
    FindingFactory(run=older, kind="wallet_mismatch", severity="CRITICAL")
    latest = ReconciliationRunFactory(started_at=now, finished_at=now, status="FINDINGS")
    FindingFactory.create_batch(2, run=latest)  # open warnings
    FindingFactory(run=latest, status="RESOLVED", resolved_by="staff:1", resolved_at=now, resolution="handled")
    ReconciliationRunFactory(started_at=now + timedelta(seconds=1))  # still running

    text = metrics_text().decode()

    assert 'reconciliation_findings{severity="CRITICAL"} 0.0' in text
    assert 'reconciliation_findings{severity="WARNING"} 2.0' in text
    finished = re.search(r'reconciliation_last_finished_timestamp_seconds\{status="FINDINGS"\} (\S+)', text)
    assert finished and float(finished.group(1)) == pytest.approx(now.timestamp())
