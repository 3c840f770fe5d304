"""Retention (decision 0015): delivered outbox rows and inbox rows go after their windows, in
batches; unpublished rows, young rows and dead letters stay; unsafe windows delete nothing."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

from walletkit.inbox.models import DeadLetter, InboxEvent
from walletkit.outbox.models import OutboxEvent
from walletkit.retention import Retention, retention_prune
from walletkit.testing.waiting import wait_until

DAY = 24 * 3600.0
NOW = datetime.now(UTC)
RETENTION = Retention(
    outbox_seconds=7 * DAY, inbox_seconds=15 * DAY, republish_window_seconds=600, broker_retention_seconds=7 * DAY
)


def outbox_row(*, age_days: float, published: bool) -> int:
    row = OutboxEvent.objects.create(event_id=uuid.uuid4(), topic="kit.events", key="k", envelope={})
    at = NOW - timedelta(days=age_days)
    OutboxEvent.objects.filter(id=row.id).update(created_at=at, published_at=at if published else None)
    return row.id


def inbox_row(*, age_days: float) -> int:
    row = InboxEvent.objects.create(
        consumer="kit-effects", event_id=uuid.uuid4(), event_type="Effect", topic="kit.events", partition=0, offset=0
    )
    InboxEvent.objects.filter(id=row.id).update(processed_at=NOW - timedelta(days=age_days))
    return row.id


def dead_letter_row(*, age_days: float) -> int:
    row = DeadLetter.objects.create(
        consumer="kit-effects", topic="kit.events", partition=0, offset=0, value="{}", error="boom", attempts=3
    )
    DeadLetter.objects.filter(id=row.id).update(created_at=NOW - timedelta(days=age_days))
    return row.id


@pytest.mark.django_db(transaction=True)
def test_rows_past_their_window_go_young_unpublished_rows_and_dead_letters_stay():
    old_published = outbox_row(age_days=8, published=True)
    old_unpublished = outbox_row(age_days=30, published=False)  # never acknowledged: must still be sent
    young_published = outbox_row(age_days=6, published=True)
    old_inbox = inbox_row(age_days=16)
    inbox_past_outbox_window = inbox_row(age_days=10)  # older than the outbox window, inside its own
    dead_letter = dead_letter_row(age_days=400)

    deleted = retention_prune(retention=RETENTION, batch_size=100, now=NOW)

    assert deleted == {"outbox": 1, "inbox": 1}
    assert set(OutboxEvent.objects.values_list("id", flat=True)) == {old_unpublished, young_published}
    assert not OutboxEvent.objects.filter(id=old_published).exists()
    assert set(InboxEvent.objects.values_list("id", flat=True)) == {inbox_past_outbox_window}
    assert not InboxEvent.objects.filter(id=old_inbox).exists()
    assert DeadLetter.objects.filter(id=dead_letter).exists()


@pytest.mark.django_db(transaction=True)
def test_a_row_newer_than_its_id_suggests_is_kept():
    """Ids and times disagree by a little when commits race: the row's own time decides, never its id."""
    old = inbox_row(age_days=20)
    young_low_id = inbox_row(age_days=1)
    older_high_id = inbox_row(age_days=20)

    retention_prune(retention=RETENTION, batch_size=100, now=NOW)

    remaining = set(InboxEvent.objects.values_list("id", flat=True))
    assert young_low_id in remaining and old not in remaining
    # Past the horizon (the first young row) a late old row waits for a later round; it is never lost early.
    assert remaining <= {young_low_id, older_high_id}


@pytest.mark.django_db(transaction=True)
def test_deletes_in_batches_of_the_given_size():
    for _ in range(25):
        outbox_row(age_days=8, published=True)

    with CaptureQueriesContext(connection) as queries:
        deleted = retention_prune(retention=RETENTION, batch_size=10, now=NOW)

    outbox_deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE FROM outbox_event")]
    assert deleted["outbox"] == 25
    assert len(outbox_deletes) == 3  # 10 + 10 + 5: each its own short transaction
    assert all("LIMIT 10" in sql for sql in outbox_deletes)
    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_prunes_with_the_configured_windows():
    old = outbox_row(age_days=8, published=True)
    young = outbox_row(age_days=1, published=True)

    call_command("prune_delivered", "--batch-size", "5")

    assert list(OutboxEvent.objects.values_list("id", flat=True)) == [young]
    assert old != young


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "windows",
    [
        # The inbox would forget an event the broker may still hand out again (retention + republish).
        {
            "INBOX_RETENTION_SECONDS": 10 * DAY,
            "OUTBOX_RETENTION_SECONDS": 7 * DAY,
            "KAFKA_RETENTION_MS": 7 * 86_400_000,
        },
        # The relay's amnesia repair would look for rows already deleted.
        {"OUTBOX_RETENTION_SECONDS": 300, "OUTBOX_REPUBLISH_WINDOW": 600},
    ],
)
def test_unsafe_windows_are_refused_and_delete_nothing(windows):
    old = outbox_row(age_days=30, published=True)
    inbox = inbox_row(age_days=30)

    with override_settings(**windows), pytest.raises(CommandError, match="unsafe"):
        call_command("prune_delivered")

    assert OutboxEvent.objects.filter(id=old).exists() and InboxEvent.objects.filter(id=inbox).exists()


def test_the_default_windows_satisfy_the_rule_for_an_hourly_pruner():
    assert Retention.from_settings().problems(prune_interval_seconds=3600) == []


def test_the_embedded_broker_keeps_messages_past_retention_ms():
    """Tansu (memory storage) stores retention.ms but does not delete by it (decision 0015): in the
    embedded stack the broker's retention is its uptime. If this starts failing, Tansu enforces it."""
    topic = f"kit.retention.{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS})
    short_lived = NewTopic(topic, num_partitions=1, replication_factor=1, config={"retention.ms": "500"})
    admin.create_topics([short_lived])[topic].result(timeout=15)
    producer = Producer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS})
    producer.produce(topic, value=b"old")
    producer.flush(10)
    written_at = time.monotonic()
    consumer = Consumer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS, "group.id": topic})
    try:
        # Watched until ten times the retention has passed: the log must start at offset 0 all along.
        wait_until(
            lambda: _log_starts_at_zero(consumer, topic) and time.monotonic() - written_at >= 5,
            timeout=30, message="ten times retention.ms passed with the first message kept",
        )  # fmt: skip
        # A later write too (Kafka deletes whole segments; a new one is rolled).
        producer.produce(topic, value=b"new")
        producer.flush(10)
        consumer.assign([TopicPartition(topic, 0, 0)])
        first = wait_until(lambda: consumer.poll(0.5), timeout=15, message="a message from offset 0")
        assert (first.offset(), first.value()) == (0, b"old")
    finally:
        consumer.close()


def _log_starts_at_zero(consumer: Consumer, topic: str) -> bool:
    low, _high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    assert low == 0, f"the broker deleted the log up to offset {low}"
    return True
