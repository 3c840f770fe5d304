from walletkit.events import Envelope, EventType
from walletkit.inbox.registry import EventHandlers
from walletkit.tests.kitapp.models import Effect


class PoisonError(Exception):
    pass


def effect_apply(envelope: Envelope) -> None:
    if envelope.payload.get("name") == "poison":
        raise PoisonError("this event can never be applied")
    Effect.objects.create(event_id=envelope.event_id, payload=envelope.payload)


# The kit's tests send events of any type.
effect_handlers = EventHandlers(dict.fromkeys(EventType, effect_apply))
