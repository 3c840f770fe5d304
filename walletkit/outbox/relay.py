"""The outbox relay: publishes committed outbox rows to Kafka, at least once, in id order.

Several relays may run against one table: each claims a batch with
``SELECT … FOR UPDATE SKIP LOCKED`` and holds those row locks until the broker has
acknowledged and the rows are marked, so no row is in flight in two relays at once.
A relay killed mid-batch leaves its rows unpublished; the next claim sends them again
and consumers drop the duplicates by event id.

Broker amnesia (decision 0006): a broker that loses what it acknowledged (Tansu's memory storage
on restart, a lost unreplicated disk) also loses events consumers had not read yet. The relay
remembers the highest offset acknowledged per partition; when a later delivery report lands at
or below it, or a partition's high watermark falls below it, the broker forgot, and the relay
marks everything it published in the last ``OUTBOX_REPUBLISH_WINDOW`` seconds for sending again
(consumers dedupe by event id). Tansu reports a high watermark of the last *batch's* base offset
+ 1, not the last offset + 1, so the watermark is compared with the lowest offset of the relay's
latest round on that partition (a batch base at most), never with its highest.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import psycopg
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import OffsetSpec
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F

from walletkit import metrics
from walletkit.db import ConnectionUpkeep
from walletkit.kafka import admin_create, producer_create
from walletkit.outbox.models import OutboxEvent
from walletkit.outbox.services import NOTIFY_CHANNEL, outbox_republish
from walletkit.shutdown import ShutdownFlag

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0
# The relay's two statements per batch, in SQL: the ORM's compiling of them was a large share
# of the relay's CPU (docs/benchmark.md).
# The envelope goes out as the database's text of it (valid JSON, as the consumers parse it), and its
# type and correlation id, which the headers carry, are read alongside.
_TABLE = OutboxEvent._meta.db_table
_CLAIM = (
    "SELECT id, topic, key, envelope::text, envelope->>'event_type', envelope->>'correlation_id' "  # noqa: S608
    f"FROM {_TABLE} WHERE published_at IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
)
_MARK_PUBLISHED = f"UPDATE {_TABLE} SET published_at = %s WHERE id = ANY(%s)"  # noqa: S608


class OutboxRelay:
    def __init__(self, *, shutdown: ShutdownFlag, batch_size: int = 500, poll_interval: float = 5.0) -> None:
        self.shutdown = shutdown
        self.batch_size = batch_size
        self.poll_interval = poll_interval  # the fallback when a NOTIFY was missed, not the clock
        self.producer = producer_create()
        self.failures = 0
        self.acked: dict[tuple[str, int], int] = {}  # (topic, partition) → highest offset acknowledged
        self.floor: dict[tuple[str, int], int] = {}  # (topic, partition) → lowest offset of the latest round
        self.amnesia = False
        self.check_every = float(getattr(settings, "OUTBOX_AMNESIA_CHECK_SECONDS", 3.0))
        self.republish_window = float(getattr(settings, "OUTBOX_REPUBLISH_WINDOW", 600.0))
        self._next_check = time.monotonic() + self.check_every
        self._admin = None  # asks the broker for high watermarks; made on first use
        self._connection_upkeep = ConnectionUpkeep()

    def run(self) -> None:
        listener = None
        while not self.shutdown.requested:
            try:
                listener = listener or self._listen()
                self._connection_upkeep()
                self.amnesia_repair()
                published, failed = self.relay_batch()
                if failed:
                    self._back_off()
                elif published < self.batch_size:
                    self._wait_for_notify(listener)
            except (psycopg.Error, DatabaseError, OSError) as exc:
                # The database went away: reconnect both connections after a pause.
                logger.warning("relay lost the database", extra={"error": str(exc)})
                listener = self._close(listener)
                connection.close()
                self._back_off()
        self._close(listener)
        self.producer.flush(5)

    def amnesia_repair(self) -> int:
        """If the broker forgot acknowledged events, mark the recent window for republishing."""
        if not self.amnesia and time.monotonic() >= self._next_check:
            self._next_check = time.monotonic() + self.check_every
            self.amnesia = self._watermark_fell()
        if not self.amnesia:
            return 0
        since = datetime.now(UTC) - timedelta(seconds=self.republish_window)
        count = outbox_republish(published_since=since)
        logger.warning("broker lost acknowledged events; republishing", extra={"republished": count})
        metrics.BROKER_AMNESIA.inc()
        self.acked.clear()
        self.floor.clear()
        self.amnesia = False
        self.producer = producer_create()  # an idempotent producer is wedged after such a restart
        return count

    def _watermark_fell(self) -> bool:
        """One ListOffsets request for every partition published to (a round trip per partition,
        every few seconds, stalled the relay long enough to show in the saga's p99)."""
        if not self.floor:
            return False
        if self._admin is None:
            self._admin = admin_create()
        wanted = {TopicPartition(topic, partition): OffsetSpec.latest() for topic, partition in self.floor}
        try:
            answers = self._admin.list_offsets(wanted, request_timeout=2)
            highs = {(tp.topic, tp.partition): future.result().offset for tp, future in answers.items()}
        except KafkaException as exc:
            if exc.args[0].code() in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_PARTITION):
                return True  # the topic itself is gone
            return False  # the broker is unreachable right now: ask again next time
        return any(highs[key] <= offset for key, offset in self.floor.items())

    def relay_batch(self) -> tuple[int, int]:
        """Publish one claimed batch. Returns (published, failed)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_CLAIM, [self.batch_size])
            rows = cursor.fetchall()
            if not rows:
                return 0, 0
            errors = self._publish(rows)
            acked = [row[0] for row in rows if row[0] not in errors]
            if acked:
                cursor.execute(_MARK_PUBLISHED, [datetime.now(UTC), acked])
            for row_id, error in errors.items():
                OutboxEvent.objects.filter(id=row_id).update(attempts=F("attempts") + 1, last_error=error[:2000])
        for row_id, topic, *_ in rows:
            if row_id not in errors:
                metrics.EVENTS_PUBLISHED.labels(topic).inc()
        if errors:
            metrics.PUBLISH_FAILURES.inc(len(errors))
            logger.warning("outbox publish failed", extra={"failed": len(errors), "error": next(iter(errors.values()))})
            self.failures += 1
            # A producer whose deliveries time out may be wedged for good (Tansu restart): start afresh.
            self.producer = producer_create()
        else:
            self.failures = 0
        return len(acked), len(errors)

    def _publish(self, rows: list) -> dict[int, str]:
        """Produce every row and wait for the broker's verdict on each. Returns {row id: error}."""
        errors: dict[int, str] = {}
        pending = {row[0] for row in rows}
        round_floor: dict[tuple[str, int], int] = {}

        def on_delivery(row_id: int):
            def callback(err, msg):
                pending.discard(row_id)
                if err is not None:
                    errors[row_id] = str(err)
                    return
                partition = (msg.topic(), msg.partition())
                # Offsets in a partition only grow: landing at or below one already acknowledged
                # means the broker started over.
                if msg.offset() <= self.acked.get(partition, -1):
                    self.amnesia = True
                self.acked[partition] = msg.offset()
                round_floor[partition] = min(msg.offset(), round_floor.get(partition, msg.offset()))

            return callback

        for row_id, topic, key, value, event_type, correlation_id in rows:
            headers = [("event_type", (event_type or "").encode())]
            if correlation_id:
                headers.append(("correlation_id", correlation_id.encode()))
            while True:
                try:
                    self.producer.produce(
                        topic, key=key, value=value.encode(), headers=headers, on_delivery=on_delivery(row_id)
                    )
                    break
                except BufferError:
                    self.producer.poll(0.05)
        deadline = time.monotonic() + settings.KAFKA_DELIVERY_TIMEOUT_MS / 1000 + 5
        while pending and time.monotonic() < deadline:
            self.producer.flush(0.5)
        for row_id in pending:
            errors[row_id] = "no delivery report before the deadline"
        self.floor.update(round_floor)
        return errors

    def _listen(self):
        db = settings.DATABASES["default"]
        listener = psycopg.connect(
            host=db["HOST"], port=db["PORT"] or 5432, dbname=db["NAME"], user=db["USER"],
            password=db["PASSWORD"], autocommit=True, connect_timeout=5,
        )  # fmt: skip
        listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return listener

    def _wait_for_notify(self, listener) -> None:
        """Sleep until a commit NOTIFYs, the poll interval passes, or shutdown is asked."""
        waited = 0.0
        while waited < self.poll_interval and not self.shutdown.requested and time.monotonic() < self._next_check:
            # list(): each notifies() generator holds the connection's (non-reentrant) lock until it is
            # exhausted, so the next one may only start after it; nesting them deadlocks the relay.
            if list(listener.notifies(timeout=0.5, stop_after=1)):
                # Swallow the rest of a burst: one claim serves them all.
                list(listener.notifies(timeout=0, stop_after=1000))
                return
            waited += 0.5

    def _back_off(self) -> None:
        self.failures = max(self.failures, 1)
        self.shutdown.wait(min(MAX_BACKOFF_SECONDS, 0.1 * 2 ** min(self.failures, 6)))
        self.failures += 1

    @staticmethod
    def _close(listener):
        if listener is not None:
            try:
                listener.close()
            except Exception:
                pass
        return None
