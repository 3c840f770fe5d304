"""rows_update: one UPDATE … FROM (VALUES …) writes what bulk_update would, value for value."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from walletkit.db import rows_update
from walletkit.outbox.models import OutboxEvent

pytestmark = pytest.mark.django_db


def outbox_row(**fields) -> OutboxEvent:
    return OutboxEvent.objects.create(event_id=uuid.uuid4(), topic="kit.events", key="k", envelope={}, **fields)


def test_each_row_gets_its_own_values_in_one_statement_and_other_rows_and_fields_are_untouched():
    first, second, bystander = outbox_row(), outbox_row(), outbox_row(last_error="keep")
    published = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    first.attempts, first.last_error, first.published_at = 3, 'it\'s "quoted"; DROP TABLE x', published
    second.attempts, second.envelope = 7, {"amount": "1.5000", "nested": [1, None, "ü"]}
    second.topic = "not written: not in the fields"

    with CaptureQueriesContext(connection) as queries:
        updated = rows_update([first, second], ["attempts", "last_error", "published_at", "envelope"])

    assert updated == 2
    assert len(queries.captured_queries) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    bystander.refresh_from_db()
    assert (first.attempts, first.last_error, first.published_at) == (3, 'it\'s "quoted"; DROP TABLE x', published)
    assert (second.attempts, second.envelope, second.published_at) == (
        7,
        {"amount": "1.5000", "nested": [1, None, "ü"]},
        None,
    )
    assert second.topic == "kit.events"
    assert (bystander.attempts, bystander.last_error) == (0, "keep")


def test_no_rows_is_no_statement():
    with CaptureQueriesContext(connection) as queries:
        assert rows_update([], ["attempts"]) == 0
    assert queries.captured_queries == []
