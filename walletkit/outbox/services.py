"""Writing to the outbox: the only way a service emits an event."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from walletkit.events import Envelope, Topic
from walletkit.outbox.models import OutboxEvent

NOTIFY_CHANNEL = "outbox"


class OutboxOutsideTransaction(RuntimeError):
    """An outbox row written outside the business transaction could commit without its cause."""


def outbox_event_create(*, topic: Topic | str, key: str, envelope: Envelope) -> None:
    """Must run inside the caller's transaction: the event commits if and only if the change does."""
    outbox_events_create([(topic, key, envelope)])


def outbox_events_create(events: Sequence[tuple[Topic | str, str, Envelope]]) -> None:
    """Events (topic, key, envelope) in one INSERT, inside the caller's transaction: a consumer's
    set-based batch writes its events at once. Plain SQL: this runs on every payment's request path
    and in every consumer batch, where the ORM's compiling of a bulk_create was most of its cost.
    The insert NOTIFYs the relay (a trigger, migration 0002), delivered at COMMIT: it wakes at once."""
    if not connection.in_atomic_block:
        raise OutboxOutsideTransaction("outbox events must be written inside transaction.atomic()")
    if not events:
        return
    now, params = timezone.now(), []
    for topic, key, envelope in events:
        params += [envelope.event_id, str(topic), str(key), envelope.to_json().decode(), now]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT.format(rows=", ".join([_ROW] * len(events))), params)


_INSERT = (
    f"INSERT INTO {OutboxEvent._meta.db_table} (event_id, topic, key, envelope, created_at, attempts, last_error) "  # noqa: S608
    "VALUES {rows}"
)
_ROW = "(%s::uuid, %s, %s, %s::jsonb, %s, 0, '')"


@transaction.atomic
def outbox_republish(
    *,
    key: str | None = None,
    since: datetime | None = None,
    first_id: int | None = None,
    last_id: int | None = None,
    published_since: datetime | None = None,
) -> int:
    """Mark already-published rows unpublished so the relay sends them again.

    The embedded broker forgets everything on restart; consumers are idempotent, so a
    second copy of an event is harmless while a lost one would stall a saga.
    """
    rows = OutboxEvent.objects.filter(published_at__isnull=False)
    if key is not None:
        rows = rows.filter(key=key)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    if published_since is not None:
        rows = rows.filter(published_at__gte=published_since)
    if first_id is not None:
        rows = rows.filter(id__gte=first_id)
    if last_id is not None:
        rows = rows.filter(id__lte=last_id)
    count = rows.update(published_at=None, attempts=0)
    if count:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, '')", [NOTIFY_CHANNEL])
    return count


def outbox_backlog() -> int:
    return OutboxEvent.objects.filter(published_at__isnull=True).count()
