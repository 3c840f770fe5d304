"""Kafka event handlers: each gets a run of envelopes, parses them and calls one set-based service
for the whole run (a run of one is the same path). Run inside the inbox transaction."""

from __future__ import annotations

from uuid import UUID

from walletkit.events import Envelope, EventType
from walletkit.inbox.registry import EventHandlers, batched
from wallets import services


@batched
def ledger_posted_handle(envelopes: list[Envelope]) -> None:
    services.holds_capture(
        transaction_ids=[UUID(envelope.transaction_id) for envelope in envelopes],
        correlation_ids=_correlation_ids(envelopes),
    )


@batched
def ledger_rejected_handle(envelopes: list[Envelope]) -> None:
    services.holds_release(
        reasons={UUID(envelope.transaction_id): envelope.data.reason for envelope in envelopes},
        correlation_ids=_correlation_ids(envelopes),
    )


# The ledger's decision settles the hold: posted → capture, rejected → release.
ledger_event_handle = EventHandlers(
    {EventType.LEDGER_POSTED: ledger_posted_handle, EventType.LEDGER_REJECTED: ledger_rejected_handle}
)


def _correlation_ids(envelopes: list[Envelope]) -> dict[UUID, str | None]:
    """Each settlement's event carries on its cause's correlation id."""
    return {UUID(envelope.transaction_id): envelope.correlation_id for envelope in envelopes}
