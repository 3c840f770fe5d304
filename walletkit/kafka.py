"""Kafka clients configured once, with the settings measured against Tansu (see DESIGN.md)."""

from __future__ import annotations

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient
from django.conf import settings


def _base() -> dict:
    return {
        "bootstrap.servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "client.id": settings.SERVICE_NAME,
        **getattr(settings, "KAFKA_SECURITY", {}),
    }


def producer_create(**overrides) -> Producer:
    config = _base() | {
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        # A delivery that is not acknowledged in time fails its callback, so the outbox row
        # stays unpublished; the relay then recreates the producer (Tansu restart wedges it).
        "message.timeout.ms": settings.KAFKA_DELIVERY_TIMEOUT_MS,
    }
    return Producer(config | overrides)


def consumer_create(*, group_id: str, **overrides) -> Consumer:
    config = _base() | {
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "fetch.wait.max.ms": settings.KAFKA_FETCH_WAIT_MS,
        "partition.assignment.strategy": "cooperative-sticky",
    }
    return Consumer(config | overrides)


def admin_create() -> AdminClient:
    return AdminClient(_base())
