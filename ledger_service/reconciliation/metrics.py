"""Reconciliation as Prometheus gauges, read from the database at scrape time (walletkit.metrics):
the latest finished run's open findings by severity, and when it finished — an alert fires on
findings and on a reconciler that stopped running (deploy/prometheus/alerts.yml)."""

from __future__ import annotations

from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily

from reconciliation.models import Finding, ReconciliationRun


class ReconciliationCollector:
    def collect(self):
        findings = GaugeMetricFamily(
            "reconciliation_findings", "Open findings of the latest finished reconciliation", labels=["severity"]
        )
        finished = GaugeMetricFamily(
            "reconciliation_last_finished_timestamp_seconds",
            "When the latest reconciliation finished",
            labels=["status"],
        )
        latest = ReconciliationRun.objects.exclude(finished_at=None).order_by("-started_at").first()
        counts = {severity: 0 for severity in Finding.Severity.values}
        if latest is not None:
            open_findings = latest.findings.filter(status=Finding.Status.OPEN).values("severity")
            for row in open_findings.annotate(count=Count("id")):
                counts[row["severity"]] = row["count"]
            finished.add_metric([latest.status], latest.finished_at.timestamp())
        for severity, count in counts.items():
            findings.add_metric([severity], count)
        return [findings, finished]
