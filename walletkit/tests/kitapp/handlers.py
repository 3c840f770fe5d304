from walletkit.events import Envelope, EventType
from walletkit.inbox.registry import EventHandlers, batched
from walletkit.tests.kitapp.models import Effect


class PoisonError(Exception):
    pass


def effect_apply(envelope: Envelope) -> None:
    if envelope.payload.get("name") == "poison":
        raise PoisonError("this event can never be applied")
    Effect.objects.create(event_id=envelope.event_id, payload=envelope.payload)


# The kit's tests send events of any type.
effect_handlers = EventHandlers(dict.fromkeys(EventType, effect_apply))


# What each call of the batched handler received: the runs the loop formed.
runs_seen: list[list[str]] = []


@batched
def effects_apply(envelopes: list[Envelope]) -> None:
    runs_seen.append([envelope.event_id for envelope in envelopes])
    if any(envelope.payload.get("name") == "poison" for envelope in envelopes):
        raise PoisonError("a run with this event can never be applied")
    Effect.objects.bulk_create(Effect(event_id=envelope.event_id, payload=envelope.payload) for envelope in envelopes)


# WalletOpened runs go to the batched handler, DepositAuthorized events one by one.
mixed_handlers = EventHandlers({EventType.WALLET_OPENED: effects_apply, EventType.DEPOSIT_AUTHORIZED: effect_apply})
