"""A broker that forgets (Tansu memory storage restarted): the relay notices and republishes.

Events the relay had published — acknowledged by the broker — but no consumer had read yet are
gone with the restart. Nothing in the outbox is unpublished, so only the relay's amnesia check
(decision 0006) can bring them back.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from prometheus_client import REGISTRY

from walletkit.devstack import infra
from walletkit.events import ALL_TOPICS
from walletkit.outbox.relay import OutboxRelay
from walletkit.outbox.services import outbox_backlog
from walletkit.shutdown import ShutdownFlag
from walletkit.testing.waiting import wait_until
from walletkit.tests.conftest import kit_envelope, kit_topic_names, outbox_write
from walletkit.tests.kitapp.models import Effect

pytestmark = pytest.mark.django_db(transaction=True)


def effects(event_id: str) -> int:
    return Effect.objects.filter(event_id=event_id).count()


def amnesia_count() -> float:
    return REGISTRY.get_sample_value("outbox_broker_amnesia_total") or 0.0


def broker_restart(supervisor) -> None:
    spec = supervisor.running["infra-broker"].spec
    supervisor.stop_one("infra-broker")
    supervisor.start(spec)
    infra.wait_for_port(int(settings.KAFKA_BOOTSTRAP_SERVERS.rsplit(":", 1)[1]))
    topics = [*ALL_TOPICS, *kit_topic_names()]
    infra.topics_ensure(settings.KAFKA_BOOTSTRAP_SERVERS, topics, partitions=4)


def test_events_acked_then_lost_by_a_broker_restart_are_republished(relay_start, consumer_start, infra_supervisor):
    relay_start(poll_interval=1.0)
    consumer = consumer_start()
    (before,) = outbox_write(kit_envelope())
    wait_until(lambda: effects(before.event_id), timeout=30, message="the first event applied")
    consumer.stop()  # what comes next is published and acknowledged, but nobody reads it
    unread = outbox_write(*(kit_envelope() for _ in range(20)))
    wait_until(lambda: outbox_backlog() == 0, timeout=30, message="acknowledged by the broker")
    amnesia_before = amnesia_count()

    broker_restart(infra_supervisor)  # the broker's memory, with the unread events, is gone

    wait_until(lambda: amnesia_count() > amnesia_before, timeout=30, message="the relay noticed the amnesia")
    consumer_start()
    wait_until(lambda: all(effects(event.event_id) for event in unread), timeout=60, message="the lost events applied")
    assert [effects(event.event_id) for event in unread] == [1] * len(unread)
    assert effects(before.event_id) == 1  # republished too (it is in the window), applied once


def test_a_healthy_broker_is_never_taken_for_an_amnesiac():
    """Tansu's high watermark is the last batch's base offset + 1: comparing it with the highest
    acknowledged offset would republish the whole window every few seconds."""
    relay = OutboxRelay(shutdown=ShutdownFlag())
    try:
        for _ in range(3):
            outbox_write(*(kit_envelope() for _ in range(40)))  # one batch per partition, several records each
            assert relay.relay_batch() == (40, 0)
            assert not relay.amnesia
            assert not relay._watermark_fell()
    finally:
        relay.producer.flush(5)
