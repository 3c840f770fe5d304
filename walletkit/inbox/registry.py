"""The one registry of consumers: name → topic, group, handlers, dead-letter topic.

Each service declares its consumers in ``settings.CONSUMERS``; ``run_consumer <name> [<name> ...]``
runs them in one loop (names that share a group: one fetch session, handlers never concurrent).
``run_consumer --list`` prints what each consumer handles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from itertools import groupby

from django.conf import settings
from django.utils.module_loading import import_string

from walletkit.correlation import correlation_id_set
from walletkit.events import Envelope, dead_letter_topic


class batched:  # noqa: N801 — used as a decorator
    """Marks a handler that takes a list of envelopes (a run of one type) and applies them set-based:
    a few statements for the run instead of a few per event. A run of one is the same code path."""

    def __init__(self, function: Callable[[list[Envelope]], None]) -> None:
        self.function = function
        self.__name__ = function.__name__

    def __call__(self, envelopes: list[Envelope]) -> None:
        self.function(envelopes)


class EventHandlers(dict[str, Callable[[Envelope], None] | batched]):
    """One consumer's table, event type → handler: "what handles X here" is one lookup.

    A type not in it is ignored — and the loop skips such messages by their ``event_type`` header
    before parsing them or touching the database.
    """

    def __call__(self, envelope: Envelope) -> None:
        self.apply_all([envelope])

    def apply_all(self, envelopes: list[Envelope]) -> None:
        """In order: each run of consecutive events with one handler goes to it — at once if it is
        ``batched``, else one by one (each with its correlation id, which its events carry on)."""
        for handler, run in groupby(envelopes, key=lambda envelope: self.get(envelope.event_type)):
            if handler is None:
                continue
            if isinstance(handler, batched):
                handler(list(run))
                continue
            for envelope in run:
                correlation_id_set(envelope.correlation_id)
                handler(envelope)


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topic: str
    group: str
    handlers_path: str
    dead_letter_topic: str
    max_attempts: int = 5

    @cached_property
    def handlers(self) -> EventHandlers:
        handlers = import_string(self.handlers_path)
        if not isinstance(handlers, EventHandlers):
            raise TypeError(f"{self.handlers_path} must be an EventHandlers table")
        return handlers

    def handles(self, event_type: str) -> bool:
        return event_type in self.handlers


def consumer_registry() -> dict[str, ConsumerSpec]:
    return {
        name: ConsumerSpec(
            name=name,
            topic=entry["topic"],
            group=entry.get("group", name),
            handlers_path=entry["handlers"],
            dead_letter_topic=entry.get("dead_letter_topic", dead_letter_topic(entry["topic"])),
            max_attempts=entry.get("max_attempts", 5),
        )
        for name, entry in getattr(settings, "CONSUMERS", {}).items()
    }


def consumer_get(name: str) -> ConsumerSpec:
    registry = consumer_registry()
    if name not in registry:
        raise KeyError(f"unknown consumer {name!r}; known: {', '.join(sorted(registry)) or 'none'}")
    return registry[name]
