"""The idempotent consumer loop.

At-least-once delivery made exactly-once in effect: the inbox row and the handler's
effect commit in one database transaction, and the Kafka offset is committed only after
that commit. A crash between the two replays the message; the inbox row turns the
replay into a no-op.
"""

from __future__ import annotations

import logging
import time
import uuid
from itertools import groupby
from operator import itemgetter

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction

from walletkit import metrics
from walletkit.correlation import correlation_id_set
from walletkit.db import ConnectionUpkeep
from walletkit.events import Envelope, InvalidEvent, envelope_parse
from walletkit.inbox.models import DeadLetter
from walletkit.inbox.registry import ConsumerSpec
from walletkit.kafka import consumer_create, producer_create
from walletkit.shutdown import ShutdownFlag

logger = logging.getLogger(__name__)

LAG_REPORT_SECONDS = 5.0
# Events per poll, applied in one database transaction: enough to share one commit, few enough that
# row locks taken by a batch (a wallet capture) are not held long against the API's reserve path.
BATCH_SIZE = 50
# One statement claims a whole batch: the rows inserted now are the events seen for the first time.
INBOX_CLAIM = """
    INSERT INTO inbox_event (consumer, event_id, event_type, topic, partition, "offset", processed_at)
    VALUES {rows}
    ON CONFLICT (consumer, event_id) DO NOTHING RETURNING consumer, event_id
"""
INBOX_ROW = "(%s, %s, %s, %s, %s, %s, now())"


# What became of a consumed message (the events_consumed metric's label).
APPLIED, DUPLICATE, SKIPPED = "applied", "duplicate", "skipped"


class InfrastructureDown(Exception):
    """The database or broker is unreachable: wait and retry, the message is not at fault."""


class ConsumerLoop:
    """One Kafka consumer applying the events of one or more registered consumers.

    Several specs share one loop when they share a consumer group (a service's consumers of
    different topics): one fetch session at the broker instead of one per topic, and the
    service's handlers never run concurrently with each other (no lock contention between them).
    Each spec keeps its own inbox name, handler and dead-letter topic.
    """

    def __init__(self, *specs: ConsumerSpec, shutdown: ShutdownFlag, batch_size: int = BATCH_SIZE) -> None:
        groups = {spec.group for spec in specs}
        if len(groups) != 1 or len({spec.topic for spec in specs}) != len(specs):
            raise ValueError("consumers sharing a loop need one group and distinct topics")
        self.specs = {spec.topic: spec for spec in specs}
        self.shutdown = shutdown
        self.batch_size = batch_size
        self.consumer = consumer_create(group_id=groups.pop())
        self.dead_letter_producer = producer_create()
        self._lag_reported_at = 0.0
        # Offsets done but not yet committed to the broker, committed at most every commit_interval s.
        self._uncommitted: dict[tuple[str, int], int] = {}
        self._committed_at = time.monotonic()
        self.commit_interval = settings.KAFKA_COMMIT_INTERVAL_MS / 1000
        self._connection_upkeep = ConnectionUpkeep()

    @property
    def names(self) -> str:
        return ", ".join(spec.name for spec in self.specs.values())

    def run(self) -> None:
        self.consumer.subscribe(list(self.specs))
        logger.info("consumer started", extra={"consumer": self.names, "topic": ", ".join(self.specs)})
        try:
            while not self.shutdown.requested:
                self._connection_upkeep()
                messages = self._poll_batch()
                done: dict[tuple[str, int], int] = {}
                wanted = []
                for message in messages:
                    if message.error():
                        if message.error().code() != KafkaError._PARTITION_EOF:
                            logger.warning("consume error", extra={"error": str(message.error())})
                        continue
                    done[(message.topic(), message.partition())] = message.offset() + 1
                    if self._wanted(message):
                        wanted.append(message)
                if wanted:
                    self.apply_batch(wanted)
                self._uncommitted.update(done)
                if time.monotonic() - self._committed_at >= self.commit_interval:
                    self._offsets_commit()
                self._report_lag()
        finally:
            self._offsets_commit()
            self.consumer.close()
            self.dead_letter_producer.flush(5)
            logger.info("consumer stopped", extra={"consumer": self.names})

    def _offsets_commit(self) -> None:
        """Tell the broker where the group is — only after the batches' database commits, and at most
        once per ``KAFKA_COMMIT_INTERVAL_MS`` (and at shutdown): a synchronous commit per batch was a
        broker round trip per batch. Whatever a crash leaves uncommitted is replayed, and the inbox turns
        the replay into duplicates. So a refused commit (the group rebalanced, the broker restarted:
        "unknown member") is logged, not fatal — the next owner of the partition replays from the last
        commit."""
        self._committed_at = time.monotonic()
        if not self._uncommitted:
            return
        offsets, self._uncommitted = self._uncommitted, {}
        try:
            self.consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
        except KafkaException as exc:
            logger.warning("offset commit refused; its events will come again as duplicates", extra={"error": str(exc)})

    def _wanted(self, message: Message) -> bool:
        """False for an event type this consumer has no handler for, read from the header the relay
        sets: skipping it needs no parsing, no transaction and no inbox row (nothing to deduplicate).
        Without the header the message is parsed and the envelope's type decides."""
        spec = self.specs[message.topic()]
        event_type = dict(message.headers() or ()).get("event_type")
        if event_type is None or spec.handles(event_type.decode(errors="replace")):
            return True
        metrics.EVENTS_CONSUMED.labels(spec.name, SKIPPED).inc()
        return False

    def _poll_batch(self) -> list[Message]:
        """Wait for one message, then take whatever else is already fetched, up to batch_size.

        consume(num_messages=N, timeout=T) waits until it has N messages OR T passed, so at low
        traffic every hop of the saga would wait out the whole timeout; this returns as soon as
        anything arrives and still batches under load.
        """
        first = self.consumer.poll(0.5)
        if first is None:
            return []
        return [first, *self.consumer.consume(num_messages=self.batch_size - 1, timeout=0)]

    def apply_batch(self, messages: list[Message]) -> None:
        """Apply messages in ONE database transaction — one commit, one WAL flush, instead of one
        per event — and no savepoint per event (two round trips each, on every event).

        If any message fails (its handler raises, a bad envelope, a lost database, a deadlock),
        the whole batch is rolled back and each message is then applied on its own, in order
        (process_until_settled: attempts, then the dead-letter topic). Failures are rare; the
        common path pays nothing for them. Handlers must be order-tolerant anyway (monotonic
        statuses, idempotent effects): events that cross partitions arrive in any order.
        """
        try:
            with transaction.atomic():
                outcomes = self._apply_all([(envelope_parse(message.value()), message) for message in messages])
        except Exception as exc:  # noqa: BLE001 — every message is retried alone just below
            logger.warning("batch rolled back; applying one by one", extra={"error": str(exc)})
            if isinstance(exc, DatabaseError):
                connection.close()
            for message in messages:
                self.process_until_settled(message)
            return
        finally:
            correlation_id_set(None)
        for name, outcome in outcomes:
            metrics.EVENTS_CONSUMED.labels(name, outcome).inc()

    def process_until_settled(self, message: Message) -> None:
        """Apply the message, or dead-letter it after ``max_attempts`` failures of its own.

        An unreachable database is not the message's fault: that is retried until it returns
        (or shutdown), never dead-lettered, so an outage does not empty a topic into the DLQ.
        """
        spec = self.specs[message.topic()]
        attempts = 0
        delay = 0.05
        while True:
            try:
                envelope = envelope_parse(message.value())
            except InvalidEvent as exc:
                self.dead_letter(message, exc, attempts=1)
                return
            try:
                self.apply(envelope, message)
                return
            except (OperationalError, InterfaceError) as exc:
                logger.warning("database unavailable; retrying", extra={"error": str(exc)})
                connection.close()
                if self.shutdown.wait(min(delay, 5.0)):
                    raise SystemExit(0) from None
                delay *= 2
            except Exception as exc:
                attempts += 1
                logger.exception("handler failed", extra={"consumer": spec.name, "attempt": attempts})
                if isinstance(exc, DatabaseError):
                    connection.close()
                if attempts >= spec.max_attempts:
                    self.dead_letter(message, exc, attempts=attempts)
                    return
                self.shutdown.wait(min(delay, 2.0))
                delay *= 2

    def apply(self, envelope: Envelope, message: Message) -> bool:
        """True if the effect was applied now, False if this consumer had already applied it."""
        try:
            with transaction.atomic():
                [(name, outcome)] = self._apply_all([(envelope, message)])
        finally:
            correlation_id_set(None)
        metrics.EVENTS_CONSUMED.labels(name, outcome).inc()
        return outcome == APPLIED

    def _apply_all(self, batch: list[tuple[Envelope, Message]]) -> list[tuple[str, str]]:
        """Inbox rows and effects of a batch (or of one message: the same path), inside the caller's
        transaction: ONE inbox statement claims every event, then each consumer's handlers get the
        events seen for the first time, in order (``EventHandlers.apply_all``: runs of one type may
        be applied set-based). No savepoint: a failure rolls the whole batch back (see apply_batch).
        Returns (consumer name, outcome) per message."""
        handled = [(env, message) for env, message in batch if self._spec(message).handles(env.event_type)]
        claimed = self._inbox_claim(handled)
        outcomes, fresh = [], []
        for envelope, message in batch:
            spec, key = self._spec(message), (self._spec(message).name, _canonical(envelope.event_id))
            if not spec.handles(envelope.event_type):
                outcomes.append((spec.name, SKIPPED))  # no event_type header, and a type not handled here
            elif key in claimed:
                claimed.discard(key)  # the same event twice in one batch: applied once
                fresh.append((spec, envelope))
                outcomes.append((spec.name, APPLIED))
            else:
                outcomes.append((spec.name, DUPLICATE))
        for spec, run in groupby(fresh, key=itemgetter(0)):
            spec.handlers.apply_all([envelope for _spec, envelope in run])
        return outcomes

    def _inbox_claim(self, batch: list[tuple[Envelope, Message]]) -> set[tuple[str, str]]:
        """Insert the batch's inbox rows; returns the (consumer, event id) pairs inserted now."""
        if not batch:
            return set()
        params: list = []
        for envelope, message in batch:
            params += [self._spec(message).name, envelope.event_id, envelope.event_type, message.topic(),
                       message.partition(), message.offset()]  # fmt: skip
        with connection.cursor() as cursor:
            cursor.execute(INBOX_CLAIM.format(rows=", ".join([INBOX_ROW] * len(batch))), params)
            return {(name, _canonical(event_id)) for name, event_id in cursor.fetchall()}

    def _spec(self, message: Message) -> ConsumerSpec:
        return self.specs[message.topic()]

    def dead_letter(self, message: Message, error: Exception, *, attempts: int) -> None:
        """Park the message on the dead-letter topic (with the error in headers) so the partition moves on."""
        spec = self.specs[message.topic()]
        headers = [
            ("error", f"{type(error).__name__}: {error}"[:1000].encode()),
            ("consumer", spec.name.encode()),
            ("original_topic", message.topic().encode()),
            ("original_partition", str(message.partition()).encode()),
            ("original_offset", str(message.offset()).encode()),
            ("attempts", str(attempts).encode()),
        ]
        delay = 0.1
        while True:
            delivered: list = []
            self.dead_letter_producer.produce(
                spec.dead_letter_topic, key=message.key(), value=message.value(), headers=headers,
                on_delivery=lambda err, _msg, verdicts=delivered: verdicts.append(err),
            )  # fmt: skip
            self.dead_letter_producer.flush(10)
            if delivered and delivered[0] is None:
                break
            logger.warning("dead-letter publish failed; retrying", extra={"error": str(delivered)})
            self.dead_letter_producer = producer_create()
            if self.shutdown.wait(delay):
                raise SystemExit(0)
            delay = min(delay * 2, 5.0)
        self._record_dead_letter(spec.name, message, error, attempts)
        metrics.EVENTS_CONSUMED.labels(spec.name, "dead_lettered").inc()
        logger.error("message dead-lettered", extra={"consumer": spec.name, "error": str(error)})

    def _record_dead_letter(self, name: str, message: Message, error: Exception, attempts: int) -> None:
        try:
            DeadLetter.objects.create(
                consumer=name, topic=message.topic(), partition=message.partition(),
                offset=message.offset(), key=(message.key() or b"").decode(errors="replace"),
                value=(message.value() or b"").decode(errors="replace"),
                error=f"{type(error).__name__}: {error}"[:4000], attempts=attempts,
            )  # fmt: skip
        except DatabaseError:
            connection.close()  # the DLQ topic has it; the local copy is a convenience

    def _report_lag(self) -> None:
        """Lag per partition from what the client already knows: the high watermark each fetch
        response carries (``cached=True``). Asking the broker instead took a round trip per
        partition every few seconds — over a second of stall per report, seen as a p99 spike."""
        now = time.monotonic()
        if now - self._lag_reported_at < LAG_REPORT_SECONDS:
            return
        self._lag_reported_at = now
        try:
            for tp in self.consumer.position(self.consumer.assignment()):
                _low, high = self.consumer.get_watermark_offsets(tp, cached=True)
                if tp.offset < 0 or high < 0:
                    continue  # nothing fetched from this partition yet
                metrics.CONSUMER_LAG.labels(self.specs[tp.topic].name, str(tp.partition)).set(max(high - tp.offset, 0))
        except Exception as exc:  # lag is a metric, never a reason to stop consuming
            logger.debug("lag report failed", extra={"error": str(exc)})


def _canonical(event_id: str | uuid.UUID) -> str:
    return str(uuid.UUID(str(event_id)))
