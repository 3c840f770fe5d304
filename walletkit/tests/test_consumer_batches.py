"""The consumer's batch path: one inbox statement per batch, handlers given runs of one type, in order.

Real messages (produced to the broker and read back) applied by the real loop on the real database.
"""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from walletkit.events import EventType, envelope_build
from walletkit.inbox.loop import ConsumerLoop
from walletkit.inbox.models import DeadLetter, InboxEvent
from walletkit.shutdown import ShutdownFlag
from walletkit.testing.waiting import wait_until
from walletkit.tests.conftest import KIT_TOPIC, kit_envelope, kit_spec, produce
from walletkit.tests.kitapp import handlers
from walletkit.tests.kitapp.models import Effect

pytestmark = pytest.mark.django_db(transaction=True)
MIXED_HANDLERS = "walletkit.tests.kitapp.handlers.mixed_handlers"


@pytest.fixture
def loop():
    loop = ConsumerLoop(kit_spec(), shutdown=ShutdownFlag())
    yield loop
    loop.consumer.close()


def _read_back(topic_reader, producer, envelopes) -> list:
    """Produce the envelopes (one key: one partition, so they come back in this order) and read them."""
    reader = topic_reader(KIT_TOPIC)
    key = str(uuid.uuid4())
    for envelope in envelopes:
        produce(producer, key=key, value=envelope.to_json())
    wanted = [envelope.event_id for envelope in envelopes]
    return wait_until(
        lambda: (
            (found := [m for m in reader.poll() if m.key() == key.encode()]) and len(found) == len(wanted) and found
        ),
        message="the produced messages",
    )


def test_a_batch_claims_its_inbox_rows_in_one_statement_and_applies_each_new_event_once(loop, topic_reader, producer):
    first, second, already = kit_envelope(), kit_envelope(), kit_envelope()
    messages = _read_back(topic_reader, producer, [first, second, first, already])
    loop.apply(already, messages[3])  # applied before: its copy in the batch is a duplicate

    with CaptureQueriesContext(connection) as queries:
        loop.apply_batch(messages)

    inbox_statements = [q for q in queries.captured_queries if "inbox_event" in q["sql"]]
    assert len(inbox_statements) == 1
    assert [Effect.objects.filter(event_id=e.event_id).count() for e in (first, second, already)] == [1, 1, 1]
    assert InboxEvent.objects.filter(event_id__in=[first.event_id, second.event_id, already.event_id]).count() == 3


def test_handlers_get_runs_of_one_type_in_order_and_batched_ones_the_whole_run(loop, topic_reader, producer):
    deposit = envelope_build(
        event_type=EventType.DEPOSIT_AUTHORIZED,
        payload={"type": "DEPOSIT", "amount": "1", "currency": "USD", "from_wallet_id": None,
                 "to_wallet_id": uuid.uuid4(), "owner_id": 1},
    )  # fmt: skip
    opened = [kit_envelope() for _ in range(5)]
    batch = [*opened[:3], deposit, *opened[3:]]
    messages = _read_back(topic_reader, producer, batch)
    loop.specs[KIT_TOPIC] = dataclasses.replace(
        kit_spec(), handlers_path="walletkit.tests.kitapp.handlers.mixed_handlers"
    )
    handlers.runs_seen.clear()

    loop.apply_batch(messages)

    assert handlers.runs_seen == [[e.event_id for e in opened[:3]], [e.event_id for e in opened[3:]]]
    applied_order = list(Effect.objects.order_by("id").values_list("event_id", flat=True))
    assert [str(event_id) for event_id in applied_order] == [e.event_id for e in batch]


def test_a_failing_run_rolls_the_batch_back_and_each_event_is_then_applied_alone(loop, topic_reader, producer):
    good, poison, later = kit_envelope(), kit_envelope(name="poison"), kit_envelope()
    messages = _read_back(topic_reader, producer, [good, poison, later])
    loop.specs[KIT_TOPIC] = dataclasses.replace(
        kit_spec(), handlers_path="walletkit.tests.kitapp.handlers.mixed_handlers"
    )

    loop.apply_batch(messages)  # the run of three fails; alone, the poison is dead-lettered, the others applied

    assert [Effect.objects.filter(event_id=e.event_id).count() for e in (good, poison, later)] == [1, 0, 1]
    assert not InboxEvent.objects.filter(event_id=poison.event_id).exists()
    assert DeadLetter.objects.filter(value__contains=poison.event_id).count() == 1
