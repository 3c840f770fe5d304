"""The one registry of consumers: name → topic, group, handler, dead-letter topic.

Each service declares its consumers in ``settings.CONSUMERS``; ``run_consumer <name> [<name> ...]``
runs them in one loop (names that share a group: one fetch session, handlers never concurrent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from walletkit.events import Envelope, dead_letter_topic


@dataclass(frozen=True)
class ConsumerSpec:
    name: str
    topic: str
    group: str
    handler_path: str
    dead_letter_topic: str
    max_attempts: int = 5

    @property
    def handler(self) -> Callable[[Envelope], None]:
        return import_string(self.handler_path)


def consumer_registry() -> dict[str, ConsumerSpec]:
    return {
        name: ConsumerSpec(
            name=name,
            topic=entry["topic"],
            group=entry.get("group", name),
            handler_path=entry["handler"],
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
