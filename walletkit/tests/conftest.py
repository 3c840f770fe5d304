"""Kit fixtures: the test topic, the outbox relay and the consumer running for real, and a topic reader.

Tests that run the relay or a consumer use ``transaction=True`` databases: those workers run in
other threads (or processes) and must see committed rows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from django.conf import settings
from django.db import transaction

from walletkit.devstack.infra import topics_ensure
from walletkit.events import Envelope, EventType, dead_letter_topic, envelope_build
from walletkit.inbox.loop import ConsumerLoop
from walletkit.inbox.registry import ConsumerSpec, consumer_get
from walletkit.outbox.relay import OutboxRelay
from walletkit.outbox.services import outbox_event_create
from walletkit.shutdown import ShutdownFlag
from walletkit.testing.threads import Worker

KIT_TOPIC = "kit.events"
KIT_CONSUMER = "kit-effects"
OTHER_TOPIC = "kit.other"  # consumed by kit-other-effects, in kit-effects' group
OTHER_CONSUMER = "kit-other-effects"
REPO_ROOT = Path(__file__).resolve().parents[2]


def kit_topic_names() -> list[str]:
    """The kit's topics and their dead-letter topics (created up front: a consumer subscribed to a
    topic that appears later only notices at its next metadata refresh, minutes away)."""
    topics = [KIT_TOPIC, OTHER_TOPIC]
    return [*topics, *map(dead_letter_topic, topics)]


@pytest.fixture(scope="session", autouse=True)
def kit_topics() -> None:
    topics_ensure(settings.KAFKA_BOOTSTRAP_SERVERS, kit_topic_names(), partitions=4)


def kit_envelope(name: str = "effect", **payload) -> Envelope:
    """Any valid envelope; the kit handler only looks at ``payload["name"]``."""
    return envelope_build(
        event_type=EventType.WALLET_OPENED,
        payload={"wallet_id": uuid.uuid4(), "owner_id": 1, "currency": "USD", "name": name, **payload},
    )


def outbox_write(*envelopes: Envelope, key: str | None = None) -> list[Envelope]:
    """Commit envelopes to the outbox, one transaction, as a service would."""
    with transaction.atomic():
        for envelope in envelopes:
            outbox_event_create(topic=KIT_TOPIC, key=key or envelope.event_id, envelope=envelope)
    return list(envelopes)


@pytest.fixture
def workers(transactional_db) -> Iterator[Callable[..., Worker]]:
    """Start relay/consumer threads; all are stopped before the database is flushed."""
    started: list[Worker] = []

    def start(name: str, target: Callable[[ShutdownFlag], None]) -> Worker:
        worker = Worker(name, target)
        started.append(worker)
        return worker

    yield start
    for worker in reversed(started):
        if worker.thread.is_alive() or worker.error:
            worker.stop()


@pytest.fixture
def relay_start(workers):
    def start(*, poll_interval: float = 1.0, batch_size: int = 500) -> Worker:
        return workers(
            "relay",
            lambda shutdown: OutboxRelay(shutdown=shutdown, batch_size=batch_size, poll_interval=poll_interval).run(),
        )

    return start


@pytest.fixture
def consumer_start(workers):
    def start(*specs: ConsumerSpec) -> Worker:
        return workers("consumer", lambda shutdown: ConsumerLoop(*(specs or [kit_spec()]), shutdown=shutdown).run())

    return start


def kit_spec() -> ConsumerSpec:
    return consumer_get(KIT_CONSUMER)


def testdb_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def relay_process(*args: str) -> subprocess.Popen:
    """``run_outbox_relay`` as its own process on the test database (so it can be SIGKILLed)."""
    return subprocess.Popen(
        [sys.executable, "-m", "django", "run_outbox_relay", "--settings=walletkit.tests.settings", *args],
        cwd=REPO_ROOT,  # never inside walletkit/: its http.py would shadow the standard library's
        env={**os.environ, "DATABASE_URL": testdb_url(), "LOG_LEVEL": "WARNING"},
        stdin=subprocess.DEVNULL,
    )


class TopicReader:
    """Reads a topic from the beginning with a throw-away group, to see exactly what was published."""

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
                "group.id": f"kit-reader-{uuid.uuid4()}",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            }
        )
        partitions = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, -2) for p in partitions])  # -2: OFFSET_BEGINNING
        self.messages: list = []

    def poll(self) -> list:
        for message in self.consumer.consume(num_messages=1000, timeout=0.2):
            if message.error() is None:
                self.messages.append(message)
        return self.messages

    def close(self) -> None:
        self.consumer.close()


@pytest.fixture
def topic_reader() -> Iterator[Callable[[str], TopicReader]]:
    readers: list[TopicReader] = []

    def open_reader(topic: str) -> TopicReader:
        readers.append(TopicReader(topic))
        return readers[-1]

    yield open_reader
    for reader in readers:
        reader.close()


@pytest.fixture
def producer() -> Iterator[Producer]:
    """A plain producer, to put bytes on a topic the way a broker redelivery or another service would."""
    producer = Producer({"bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS})
    yield producer
    producer.flush(10)


def produce(producer: Producer, *, key: str, value: bytes, topic: str = KIT_TOPIC) -> None:
    verdicts: list = []
    producer.produce(topic, key=key, value=value, on_delivery=lambda err, _msg: verdicts.append(err))
    producer.flush(10)
    assert verdicts == [None], f"broker did not acknowledge: {verdicts}"
