"""Retention of delivered events (decision 0015): published outbox rows and inbox rows are deleted
once no republish and no redelivery can need them any more. Dead letters are never pruned here:
they stay until staff handle them.

The rule, checked before anything is deleted (all in seconds):

- OUTBOX_RETENTION ≥ OUTBOX_REPUBLISH_WINDOW — the relay's amnesia repair (decision 0006) finds
  every row it wants to republish;
- INBOX_RETENTION ≥ OUTBOX_RETENTION + prune interval + KAFKA_RETENTION_MS / 1000 — a copy of an
  event can be appended to a topic while its outbox row exists (≤ OUTBOX_RETENTION + one prune
  interval after the first publish) and read while the broker keeps it (≤ broker retention after
  that append); the consumer's inbox row is at least as young as the first publish. So no copy can
  reach a consumer whose inbox row for that event is gone.

Deleting is batched (one short transaction of ≤ batch_size rows each) and walks the primary key
from the oldest row, never scanning the young part of the table: ids grow with time, so the first
row newer than the cutoff bounds the walk (the "horizon"). A row whose time is on the wrong side
of its id (two commits racing by milliseconds) is never deleted early — it is filtered by its own
time — it merely waits for the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction


@dataclass(frozen=True)
class Retention:
    outbox_seconds: float
    inbox_seconds: float
    republish_window_seconds: float
    broker_retention_seconds: float

    @classmethod
    def from_settings(cls) -> Retention:
        return cls(
            outbox_seconds=settings.OUTBOX_RETENTION_SECONDS,
            inbox_seconds=settings.INBOX_RETENTION_SECONDS,
            republish_window_seconds=settings.OUTBOX_REPUBLISH_WINDOW,
            broker_retention_seconds=settings.KAFKA_RETENTION_MS / 1000,
        )

    def problems(self, *, prune_interval_seconds: float) -> list[str]:
        """Why these windows could let a republished or redelivered event meet a pruned row."""
        found = []
        if self.outbox_seconds < self.republish_window_seconds:
            found.append(
                f"OUTBOX_RETENTION_SECONDS ({self.outbox_seconds:g}) is shorter than "
                f"OUTBOX_REPUBLISH_WINDOW ({self.republish_window_seconds:g})"
            )
        needed = self.outbox_seconds + prune_interval_seconds + self.broker_retention_seconds
        if self.inbox_seconds < needed:
            found.append(
                f"INBOX_RETENTION_SECONDS ({self.inbox_seconds:g}) is shorter than OUTBOX_RETENTION_SECONDS "
                f"+ prune interval + KAFKA_RETENTION_MS/1000 ({needed:g})"
            )
        return found


# (table, the time after which a row may go, a time never later than that one which grows with the id).
OUTBOX = ("outbox_event", "published_at", "created_at")
INBOX = ("inbox_event", "processed_at", "processed_at")


def delivered_prune(*, table: tuple[str, str, str], older_than: datetime, batch_size: int) -> int:
    """Delete rows of ``table`` whose time is before ``older_than``, batch by batch. Returns the count.

    An unpublished outbox row has no published_at and so never matches ``published_at < cutoff``."""
    name, prunable_at, created_at = table
    horizon = _horizon(name=name, created_at=created_at, older_than=older_than)
    deleted, after = 0, 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            # Names are this module's constants; every value is a parameter.
            one_batch = f"DELETE FROM {name} WHERE id IN (SELECT id FROM {name} WHERE id > %s AND id < %s AND {prunable_at} < %s ORDER BY id LIMIT %s) RETURNING id"  # noqa: S608, E501
            cursor.execute(
                one_batch,
                [after, horizon, older_than, batch_size],
            )
            ids = [row[0] for row in cursor.fetchall()]
        deleted += len(ids)
        if len(ids) < batch_size:
            return deleted
        after = max(ids)


def _horizon(*, name: str, created_at: str, older_than: datetime) -> int:
    """The id of the oldest row created at or after the cutoff (or past the last id): no row from
    there on can be prunable, so the delete never walks the young part of the table."""
    with connection.cursor() as cursor:
        first_young = f"SELECT id FROM {name} WHERE {created_at} >= %s ORDER BY id LIMIT 1"  # noqa: S608 — constants
        cursor.execute(first_young, [older_than])
        row = cursor.fetchone()
        if row:
            return row[0]
        cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {name}")  # noqa: S608 — a constant table name
        return cursor.fetchone()[0]


def retention_prune(*, retention: Retention, batch_size: int, now: datetime | None = None) -> dict[str, int]:
    """One pruning round for this service's outbox and inbox. Returns deleted counts per table."""
    now = now or datetime.now(UTC)
    return {
        "outbox": delivered_prune(
            table=OUTBOX, older_than=now - timedelta(seconds=retention.outbox_seconds), batch_size=batch_size
        ),
        "inbox": delivered_prune(
            table=INBOX, older_than=now - timedelta(seconds=retention.inbox_seconds), batch_size=batch_size
        ),
    }
