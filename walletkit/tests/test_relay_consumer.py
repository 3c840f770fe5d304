"""Outbox relay and idempotent consumer together: every committed event takes effect exactly once,
whatever is duplicated, poisoned or killed on the way."""

from __future__ import annotations

import dataclasses
import io
import json
import signal
import subprocess
from datetime import timedelta

import pytest
from confluent_kafka import Consumer, TopicPartition
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from prometheus_client import REGISTRY

from walletkit.events import dead_letter_topic
from walletkit.inbox.loop import LAG_REPORT_SECONDS, ConsumerLoop
from walletkit.inbox.models import DeadLetter, InboxEvent
from walletkit.inbox.registry import consumer_get
from walletkit.outbox.models import OutboxEvent
from walletkit.outbox.services import outbox_backlog, outbox_republish
from walletkit.shutdown import ShutdownFlag
from walletkit.testing.waiting import wait_until
from walletkit.tests.conftest import (
    KIT_CONSUMER,
    KIT_TOPIC,
    OTHER_CONSUMER,
    OTHER_TOPIC,
    kit_envelope,
    kit_spec,
    outbox_write,
    produce,
    relay_process,
)
from walletkit.tests.kitapp.models import Effect

pytestmark = pytest.mark.django_db(transaction=True)


def effects(event_id: str) -> int:
    return Effect.objects.filter(event_id=event_id).count()


def consumed(outcome: str) -> float:
    return REGISTRY.get_sample_value("consumer_events_total", {"consumer": KIT_CONSUMER, "outcome": outcome}) or 0.0


def applied(event_id: str, timeout: float = 30) -> None:
    wait_until(lambda: effects(event_id), timeout=timeout, message=f"effect of {event_id}")


def event_ids(messages) -> list[str]:
    return [json.loads(message.value())["event_id"] for message in messages]


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def test_an_event_written_through_the_outbox_is_applied_exactly_once(relay_start, consumer_start):
    relay_start()
    consumer_start()

    (event,) = outbox_write(kit_envelope(), key="wallet-a")
    applied(event.event_id)
    # A later event on the same key (same partition) is applied after any redelivery of the first.
    (later,) = outbox_write(kit_envelope(), key="wallet-a")
    applied(later.event_id)

    assert effects(event.event_id) == 1
    assert Effect.objects.get(event_id=event.event_id).payload == event.payload
    assert InboxEvent.objects.filter(consumer=KIT_CONSUMER, event_id=event.event_id).count() == 1
    assert outbox_backlog() == 0


def test_the_same_event_delivered_twice_changes_nothing(relay_start, consumer_start, topic_reader, producer):
    reader = topic_reader(KIT_TOPIC)
    relay_start()
    consumer_start()
    (event,) = outbox_write(kit_envelope(), key="wallet-b")
    applied(event.event_id)
    (original,) = wait_until(
        lambda: [m for m in reader.poll() if event_ids([m]) == [event.event_id]], message="the published bytes"
    )
    duplicates_before = consumed("duplicate")

    produce(producer, key=original.key(), value=original.value())  # the very same bytes, again
    sentinel = kit_envelope()
    produce(producer, key=original.key(), value=sentinel.to_json())
    applied(sentinel.event_id)

    assert effects(event.event_id) == 1
    assert consumed("duplicate") - duplicates_before == 1


def test_a_poison_message_is_dead_lettered_and_the_partition_moves_on(consumer_start, topic_reader, producer):
    dlq = topic_reader(dead_letter_topic(KIT_TOPIC))
    consumer_start()
    poison, after = kit_envelope("poison"), kit_envelope("after the poison")

    produce(producer, key="wallet-c", value=poison.to_json())
    produce(producer, key="wallet-c", value=after.to_json())  # same key: behind the poison on its partition

    applied(after.event_id)
    (dead,) = wait_until(
        lambda: [m for m in dlq.poll() if event_ids([m]) == [poison.event_id]], message="the poison on the DLQ"
    )
    headers = {name: value.decode() for name, value in dead.headers()}
    assert headers["error"] == "PoisonError: this event can never be applied"
    assert headers["consumer"] == KIT_CONSUMER
    assert headers["original_topic"] == KIT_TOPIC
    assert headers["attempts"] == str(kit_spec().max_attempts)
    assert dead.value() == poison.to_json()
    assert effects(poison.event_id) == 0
    assert not InboxEvent.objects.filter(event_id=poison.event_id).exists()
    assert DeadLetter.objects.get(consumer=KIT_CONSUMER, offset=int(headers["original_offset"])).error.startswith(
        "PoisonError"
    )


def test_one_loop_applies_the_topics_of_consumers_sharing_a_group_each_under_its_own_name(
    consumer_start, topic_reader, producer
):
    other_dlq = topic_reader(dead_letter_topic(OTHER_TOPIC))
    consumer_start(kit_spec(), consumer_get(OTHER_CONSUMER))
    kit_event, other_event, other_poison = kit_envelope(), kit_envelope(), kit_envelope("poison")

    produce(producer, key="wallet-k", value=kit_event.to_json())
    produce(producer, key="wallet-o", value=other_event.to_json(), topic=OTHER_TOPIC)
    produce(producer, key="wallet-o", value=other_poison.to_json(), topic=OTHER_TOPIC)

    applied(kit_event.event_id)
    applied(other_event.event_id)
    assert InboxEvent.objects.get(event_id=kit_event.event_id).consumer == KIT_CONSUMER
    assert InboxEvent.objects.get(event_id=other_event.event_id).consumer == OTHER_CONSUMER
    (dead,) = wait_until(
        lambda: [m for m in other_dlq.poll() if event_ids([m]) == [other_poison.event_id]], message="the poison"
    )
    assert dict(dead.headers())["consumer"] == OTHER_CONSUMER.encode()


def test_the_consumer_reports_its_lag_per_partition_without_asking_the_broker(relay_start, consumer_start):
    relay_start()
    consumer_start()
    (event,) = outbox_write(kit_envelope(), key="wallet-lag")
    applied(event.event_id)

    def lag_samples():
        samples = [s for metric in REGISTRY.collect() if metric.name == "consumer_lag" for s in metric.samples]
        return [s for s in samples if s.labels["consumer"] == KIT_CONSUMER]

    def caught_up():
        # Earlier tests' events on the kit topic may still be in flight when the first sample is taken
        # (a busy machine): the claim is that the lag is reported, and reaches zero once all is consumed.
        samples = lag_samples()
        return samples if samples and all(sample.value == 0 for sample in samples) else None

    wait_until(caught_up, timeout=LAG_REPORT_SECONDS + 10, message="consumer_lag samples, all zero")


def test_consumers_of_different_groups_cannot_share_a_loop():
    other_group = dataclasses.replace(consumer_get(OTHER_CONSUMER), group="elsewhere")
    with pytest.raises(ValueError, match="one group"):
        ConsumerLoop(kit_spec(), other_group, shutdown=ShutdownFlag())


def test_a_bad_envelope_is_dead_lettered_at_once(consumer_start, topic_reader, producer):
    dlq = topic_reader(dead_letter_topic(KIT_TOPIC))
    consumer_start()
    after = kit_envelope()

    produce(producer, key="wallet-d", value=b'{"event_id": "not-a-uuid"}')
    produce(producer, key="wallet-d", value=after.to_json())

    applied(after.event_id)
    (dead,) = wait_until(
        lambda: [m for m in dlq.poll() if m.value() == b'{"event_id": "not-a-uuid"}'], message="the bad bytes on DLQ"
    )
    headers = {name: value.decode() for name, value in dead.headers()}
    assert headers["error"].startswith("InvalidEvent")
    assert headers["attempts"] == "1"


def test_a_commit_wakes_the_relay_long_before_its_poll_interval(relay_start):
    relay_start(poll_interval=60)  # polling alone would take a minute
    (warm_up,) = outbox_write(kit_envelope())
    wait_until(lambda: OutboxEvent.objects.get(event_id=warm_up.event_id).published_at, timeout=10)

    (event,) = outbox_write(kit_envelope())

    # The relay is now idle waiting on LISTEN; only the NOTIFY of this commit can wake it in time.
    wait_until(lambda: OutboxEvent.objects.get(event_id=event.event_id).published_at, timeout=5)


def test_a_relay_killed_mid_batch_loses_nothing(consumer_start, processes):
    events = outbox_write(*(kit_envelope() for _ in range(3000)))
    total = len(events)
    relay = relay_process("--batch-size", "50")
    processes.append(relay)

    wait_until(
        lambda: 0 < OutboxEvent.objects.filter(published_at__isnull=False).count() < total,
        timeout=30,
        interval=0.01,
        message="some but not all events published",
    )
    relay.send_signal(signal.SIGKILL)
    relay.wait(10)
    published_at_kill = OutboxEvent.objects.filter(published_at__isnull=False).count()
    assert 0 < published_at_kill < total

    processes.append(relay_process("--batch-size", "500"))
    wait_until(lambda: outbox_backlog() == 0, timeout=60, message="the restarted relay drains the outbox")
    consumer_start()
    ours = Effect.objects.filter(event_id__in=[event.event_id for event in events])
    wait_until(
        lambda: ours.values("event_id").distinct().count() == total,
        timeout=90,
        interval=0.2,
        message="every event applied",
    )

    assert ours.count() == total  # and none twice


def test_republish_by_key_sends_again_and_consumers_ignore_the_copies(relay_start, consumer_start, topic_reader):
    reader = topic_reader(KIT_TOPIC)
    relay_start()
    consumer_start()
    events = outbox_write(kit_envelope(), kit_envelope(), kit_envelope(), key="saga-1")
    (other,) = outbox_write(kit_envelope(), key="saga-2")
    for event in (*events, other):
        applied(event.event_id)
    duplicates_before = consumed("duplicate")

    assert outbox_republish(key="saga-1") == 3

    wait_until(lambda: outbox_backlog() == 0, timeout=10, message="the copies published")
    (sentinel,) = outbox_write(kit_envelope(), key="saga-1")
    applied(sentinel.event_id)
    on_topic = event_ids(wait_until(lambda: sentinel.event_id in event_ids(reader.poll()) and reader.messages))
    assert [on_topic.count(event.event_id) for event in events] == [2, 2, 2]
    assert on_topic.count(other.event_id) == 1
    assert [effects(event.event_id) for event in events] == [1, 1, 1]
    assert consumed("duplicate") - duplicates_before == 3


def test_republish_since_from_the_command_line(relay_start, topic_reader):
    reader = topic_reader(KIT_TOPIC)
    relay_start()
    (old,) = outbox_write(kit_envelope())
    wait_until(lambda: outbox_backlog() == 0, timeout=10)
    OutboxEvent.objects.filter(event_id=old.event_id).update(created_at=timezone.now() - timedelta(hours=2))
    recent = outbox_write(kit_envelope(), kit_envelope())
    wait_until(lambda: outbox_backlog() == 0, timeout=10)
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    out = io.StringIO()

    call_command("run_outbox_relay", f"--republish-since={since}", stdout=out)

    assert out.getvalue().strip() == "marked 2 outbox events for republishing"
    wait_until(lambda: outbox_backlog() == 0, timeout=10, message="the copies published")
    wait_until(lambda: all(event_ids(reader.poll()).count(e.event_id) == 2 for e in recent), timeout=10)
    assert event_ids(reader.poll()).count(old.event_id) == 1


def test_a_consumer_dying_between_db_commit_and_offset_commit_replays_as_a_no_op(consumer_start, producer):
    event = kit_envelope()
    produce(producer, key="wallet-e", value=event.to_json())
    crashed = ConsumerLoop(kit_spec(), shutdown=ShutdownFlag())
    crashed.consumer.subscribe([KIT_TOPIC])

    def apply_until_ours() -> bool:
        for message in crashed.consumer.consume(num_messages=200, timeout=0.5):
            if message.error() is None:
                crashed.process_until_settled(message)  # database commit, no offset commit
                if event_ids([message]) == [event.event_id]:
                    return True
        return False

    wait_until(apply_until_ours, timeout=30, message="the event applied by the first consumer")
    assert effects(event.event_id) == 1
    crashed.consumer.close()  # gone without committing its offset, as if killed right after the DB commit
    duplicates_before = consumed("duplicate")

    consumer_start()  # a fresh consumer in the same group starts from the last committed offset
    sentinel = kit_envelope()
    produce(producer, key="wallet-e", value=sentinel.to_json())
    applied(sentinel.event_id)

    assert effects(event.event_id) == 1
    assert consumed("duplicate") - duplicates_before >= 1  # ours came again and the inbox dropped it


def test_offsets_are_committed_once_per_interval_and_at_shutdown(settings, consumer_start, producer):
    """A synchronous commit per batch was a broker round trip per batch; now at most one per interval.
    Whatever is uncommitted is committed at a clean stop (and replayed, deduplicated, after a crash)."""
    settings.KAFKA_COMMIT_INTERVAL_MS = 3_600_000  # nothing between the start and the stop
    before = _group_committed(kit_spec().group)
    worker = consumer_start()
    events = [kit_envelope() for _ in range(5)]
    for event in events:
        produce(producer, key="wallet-f", value=event.to_json())
    for event in events:
        applied(event.event_id)

    assert _group_committed(kit_spec().group) == before  # applied, not committed: a crash now replays them
    worker.stop()
    assert _group_committed(kit_spec().group) >= before + len(events)


def _group_committed(group: str) -> int:
    """The offsets the group committed, summed over the kit topic's partitions. (Not compared with the
    high watermarks: Tansu's may count a batch of records as one.)"""
    reader = Consumer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS, "group.id": group,
                       "enable.auto.commit": False})  # fmt: skip
    try:
        partitions = reader.list_topics(KIT_TOPIC, timeout=10).topics[KIT_TOPIC].partitions
        wanted = [TopicPartition(KIT_TOPIC, partition) for partition in partitions]
        return sum(max(tp.offset, 0) for tp in reader.committed(wanted, timeout=10))
    finally:
        reader.close()
