"""The outbox: an event exists if and only if the business change that caused it committed."""

from __future__ import annotations

import json

import pytest
from django.db import transaction

from walletkit.outbox.models import OutboxEvent
from walletkit.outbox.services import OutboxOutsideTransaction, outbox_backlog, outbox_event_create
from walletkit.testing.waiting import wait_until
from walletkit.tests.conftest import KIT_TOPIC, kit_envelope, outbox_write


class BusinessRuleBroken(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_writing_outside_a_transaction_is_refused_and_writes_nothing():
    envelope = kit_envelope()

    with pytest.raises(OutboxOutsideTransaction):
        outbox_event_create(topic=KIT_TOPIC, key="k", envelope=envelope)

    assert not OutboxEvent.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_event_commits_with_its_transaction():
    (envelope,) = outbox_write(kit_envelope(), key="wallet-1")

    row = OutboxEvent.objects.get()
    assert (str(row.event_id), row.topic, row.key, row.envelope) == (
        envelope.event_id,
        KIT_TOPIC,
        "wallet-1",
        envelope.to_dict(),
    )
    assert row.published_at is None
    assert outbox_backlog() == 1


@pytest.mark.django_db(transaction=True)
def test_an_event_of_a_rolled_back_transaction_is_never_published(relay_start, topic_reader):
    reader = topic_reader(KIT_TOPIC)
    relay_start()
    rolled_back = kit_envelope("rolled-back")

    with pytest.raises(BusinessRuleBroken), transaction.atomic():
        outbox_event_create(topic=KIT_TOPIC, key="same-key", envelope=rolled_back)
        raise BusinessRuleBroken
    # Same key, so the same partition, written after: once it is on the topic, the relay has had its chance.
    (committed,) = outbox_write(kit_envelope("committed"), key="same-key")

    published = wait_until(
        lambda: committed.event_id in (ids := [json.loads(m.value())["event_id"] for m in reader.poll()]) and ids,
        timeout=20,
        message="the committed event on the topic",
    )
    assert rolled_back.event_id not in published
    assert [str(e) for e in OutboxEvent.objects.values_list("event_id", flat=True)] == [committed.event_id]
    assert outbox_backlog() == 0
