"""Kafka event handlers: parse the envelope, call one service. Run inside the inbox transaction."""

from walletkit.events import Envelope


def ledger_event_handle(envelope: Envelope) -> None:
    """Filled in with the saga (issue 3)."""
