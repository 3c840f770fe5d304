"""Entries remember whether the wallet service accepted their movement, and who acted (threat model
T30–T31).

Rows written before this recorded neither, and some were attributed to the wrong person (a receiver's
credit to the sender, someone else's attempt to its actor, a refused payment to the payee). What can
be told from a row is repaired: a status past INITIATED, unless it is a reserve refusal's FAILED,
means a hold existed, so the row is its wallet's known owner's; a row not accepted whose owner is not
its wallet's owner was the actor's attempt on someone else's wallet and is hidden; a payee's copy of a
refused payment goes. An attempt on a wallet known at the time was given to the wallet's owner and
cannot be told apart from the owner's own (the actor was not stored): it stays.
"""

from django.db import migrations, models

# The codes a reserve is refused with (wallet_service's hold_reserve, transaction_service's client):
# no hold was ever made for a transaction that failed with one of them.
RESERVE_REFUSALS = (
    "wallet_not_found",
    "insufficient_funds",
    "currency_mismatch",
    "limit_exceeded",
    "invalid_movement",
    "transaction_id_conflict",
    "wallet_unavailable",
)

REPAIR = [
    (
        "UPDATE history_entry SET accepted = true WHERE status IN ('RESERVED', 'SUCCESS')"
        " OR (status = 'FAILED' AND failure_reason <> ALL(%s))",
        [list(RESERVE_REFUSALS)],
    ),
    (
        "UPDATE history_entry AS entry SET owner_id = owner.owner_id, updated_at = now()"
        " FROM history_wallet_owner AS owner WHERE entry.wallet_id = owner.wallet_id AND entry.accepted"
        " AND entry.owner_id IS DISTINCT FROM owner.owner_id",
        None,
    ),
    (
        "UPDATE history_entry AS entry SET owner_id = NULL FROM history_wallet_owner AS owner"
        " WHERE entry.wallet_id = owner.wallet_id AND NOT entry.accepted AND entry.owner_id <> owner.owner_id",
        None,
    ),
    ("DELETE FROM history_entry WHERE NOT accepted AND type = 'TRANSFER' AND direction = 'CREDIT'", None),
]


class Migration(migrations.Migration):
    dependencies = [
        ("history", "0002_currency_unknown_until_known"),
    ]

    operations = [
        migrations.AddField(
            model_name="historyentry",
            name="accepted",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="historyentry",
            name="actor_id",
            field=models.BigIntegerField(null=True),
        ),
        migrations.RunSQL(REPAIR, reverse_sql=migrations.RunSQL.noop),
    ]
