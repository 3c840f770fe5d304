"""Reconciliation findings on /metrics (deploy/prometheus/alerts.yml alerts on them): the latest
finished run's open findings by severity, and when it finished."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from reconciliation.models import Finding, ReconciliationRun
from walletkit.metrics import metrics_text

pytestmark = pytest.mark.django_db


def test_the_latest_finished_runs_open_findings_are_gauges_by_severity():
    now = timezone.now()
    older = ReconciliationRun.objects.create(
        started_at=now - timedelta(minutes=2), finished_at=now - timedelta(minutes=1), trigger="cron", status="FINDINGS"
    )
    Finding.objects.create(run=older, kind="wallet_mismatch", severity="CRITICAL", subject="old")
    latest = ReconciliationRun.objects.create(started_at=now, finished_at=now, trigger="cron", status="FINDINGS")
    Finding.objects.create(run=latest, kind="stuck", severity="WARNING", subject="a")
    Finding.objects.create(run=latest, kind="stuck", severity="WARNING", subject="b")
    Finding.objects.create(
        run=latest, kind="stuck", severity="WARNING", subject="c", status="RESOLVED",
        resolved_by="staff:1", resolved_at=now, resolution="handled",
    )  # fmt: skip
    ReconciliationRun.objects.create(started_at=now + timedelta(seconds=1), trigger="cron")  # still running

    text = metrics_text().decode()

    assert 'reconciliation_findings{severity="CRITICAL"} 0.0' in text
    assert 'reconciliation_findings{severity="WARNING"} 2.0' in text
    finished = re.search(r'reconciliation_last_finished_timestamp_seconds\{status="FINDINGS"\} (\S+)', text)
    assert finished and float(finished.group(1)) == pytest.approx(now.timestamp())
