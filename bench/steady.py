"""Steady state (``python -m bench --steady``): before measuring, the big tables are pre-filled to
``--steady-rows`` rows (ledger postings, history entries; transactions, holds and journal entries in
proportion) so the figures are those of a wallet that has run for months, not of empty tables.

The rows are copies of real round trips made through the API just before (A pays B, B pays A the
same amount, both SUCCESS), cloned in SQL with new ids derived the same way in every database and
dated back over ``--steady-days``. A round trip moves no money, so every balance, every account's
postings and every cross-service check of reconciliation still agree.

Each cloned transfer also gets its delivery rows in every database: the outbox rows of its events
(published) and the inbox rows of the consumers that applied them, with the same derived event ids.
They are dated back over at most the retention windows (decision 0015: the pruner deletes older
ones), so the tables hold what a wallet running at that rate would hold.
"""

from __future__ import annotations

import math
import time

import psycopg

F = "md5({column}::text || ':' || k)::uuid"  # the copy k of an id: the same in every database
# database → (table, which rows are the round trips', {column: its value in copy k}); a column left
# out of the insert takes its default (a bigserial id). Timestamps move back by k steps.
CLONES = {
    "transaction": [
        ('"transaction"', "id = ANY(%(ids)s::uuid[])", {"id": F.format(column="id"),
                                                 "idempotency_key": "idempotency_key || ':' || k"}),
    ],
    "wallet": [
        ("wallet_hold", "transaction_id = ANY(%(ids)s::uuid[])", {"id": None,
                                                          "transaction_id": F.format(column="transaction_id")}),
    ],
    "ledger": [
        ("ledger_journal_entry", "transaction_id = ANY(%(ids)s::uuid[])",
         {"id": F.format(column="id"), "transaction_id": F.format(column="transaction_id")}),
        ("ledger_posting",
         "entry_id IN (SELECT id FROM ledger_journal_entry WHERE transaction_id = ANY(%(ids)s::uuid[]))",
         {"id": None, "entry_id": F.format(column="entry_id")}),
    ],
    "history": [
        ("history_entry", "transaction_id = ANY(%(ids)s::uuid[])",
         {"id": F.format(column="id"), "transaction_id": F.format(column="transaction_id")}),
    ],
}  # fmt: skip
# The delivery tables of every database. An outbox row of a round trip's event names its transaction in
# the envelope; an inbox row is found by the event id (collected from every outbox first).
EVENT = "md5(envelope->>'{field}' || ':' || k)::uuid::text"
DELIVERY = [
    ("outbox_event", "envelope->>'transaction_id' = ANY(%(ids)s::text[])", {
        "id": None,
        "event_id": F.format(column="event_id"),
        "envelope": f"jsonb_set(jsonb_set(envelope, '{{event_id}}', to_jsonb({EVENT.format(field='event_id')})), "
        f"'{{transaction_id}}', to_jsonb({EVENT.format(field='transaction_id')}))",
        # A copy is an event delivered long ago, never one for the relay to send.
        "published_at": 'COALESCE("published_at", "created_at") - make_interval(secs => k * %(step)s::float8)',
    }),
    ("inbox_event", "event_id = ANY(%(event_ids)s::uuid[])", {"id": None, "event_id": F.format(column="event_id")}),
]  # fmt: skip
DELIVERY_DATABASES = ("gateway", "transaction", "wallet", "ledger", "history")
# Rows older than these are pruned (OUTBOX_RETENTION_SECONDS, INBOX_RETENTION_SECONDS defaults).
RETENTION_DAYS = {"outbox_event": 7, "inbox_event": 15}
COPIES_PER_STATEMENT = 2000  # one statement's transaction stays short enough not to hold the stack up


def copies_for(*, rows: int, transaction_ids: list[str]) -> int:
    """Copies of the round trips that put at least ``rows`` rows in the biggest tables (two postings
    and two history entries per transfer)."""
    return math.ceil(rows / (2 * len(transaction_ids)))


def prefill(*, database_urls: dict[str, str], transaction_ids: list[str], copies: int, days: float) -> dict:
    """Clone the rows of ``transaction_ids`` ``copies`` times in every service database, then their
    outbox and inbox rows. Returns {table: rows now in it} and the seconds it took."""
    started, counts = time.monotonic(), {}
    for database, tables in CLONES.items():
        counts |= _clone_tables(database_urls[database], tables, copies=copies, days=days, ids=transaction_ids)
    # Last, so the consumers have long written their inbox rows of the round trips' events.
    event_ids = _round_trip_events(database_urls, transaction_ids)
    for database in DELIVERY_DATABASES:
        filled = _clone_tables(
            database_urls[database], DELIVERY, copies=copies, days=days, ids=transaction_ids, event_ids=event_ids
        )
        counts |= {f"{database}.{table}": rows for table, rows in filled.items()}
    return {"rows": counts, "seconds": round(time.monotonic() - started, 1), "copies": copies}


def _clone_tables(url: str, tables: list, *, copies: int, days: float, **values) -> dict[str, int]:
    """Copies 1..``copies`` of ``tables``' source rows in one database, ``COPIES_PER_STATEMENT`` at a time."""
    with psycopg.connect(url, autocommit=True) as conn:
        statements = [
            (_clone_statement(conn, table, source, remapped), _step_seconds(table, days=days, copies=copies))
            for table, source, remapped in tables
        ]
        # Oldest copies first (copy k is k steps back), so ids grow with time as in a real table: the
        # pruner's walk from the oldest id relies on it (walletkit/retention.py).
        for last in range(copies, 0, -COPIES_PER_STATEMENT):
            first = max(1, last - COPIES_PER_STATEMENT + 1)
            # A database's tables in one transaction: the ledger checks at commit that every
            # journal entry has its postings.
            with conn.transaction():
                for statement, step in statements:
                    conn.execute(statement, {**values, "first": first, "last": last, "step": step})
        counts = {}
        for table, _source, _remapped in tables:
            # VACUUM, not only ANALYZE: a months-old table has its visibility map set; left to
            # autovacuum, the freshly inserted rows would be vacuumed during the measurement.
            conn.execute(f"VACUUM (ANALYZE) {table}")
            counts[table.strip('"')] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
    return counts


def _step_seconds(table: str, *, days: float, copies: int) -> float:
    """How far back copy k+1 is from copy k: the copies span ``days``, or the table's retention."""
    return min(days, RETENTION_DAYS.get(table, days)) * 86400 / max(copies, 1)


def _round_trip_events(database_urls: dict[str, str], transaction_ids: list[str]) -> list[str]:
    """The ids of every event the round trips caused, from every database's outbox."""
    found = []
    for database in DELIVERY_DATABASES:
        with psycopg.connect(database_urls[database]) as conn:
            rows = conn.execute(
                "SELECT event_id::text FROM outbox_event WHERE envelope->>'transaction_id' = ANY(%s::text[])",
                [transaction_ids],
            ).fetchall()
            found += [row[0] for row in rows]
    return found


def _clone_statement(conn, table: str, source: str, remapped: dict) -> str:
    """INSERT … SELECT of copies first..last of the source rows, every other column as it was."""
    columns = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position",
        [table.strip('"')],
    ).fetchall()
    names, values = [], []
    for name, data_type in columns:
        if name in remapped and remapped[name] is None:
            continue  # its default (a new serial id)
        names.append(f'"{name}"')
        if name in remapped:
            values.append(remapped[name])
        elif data_type.startswith("timestamp"):
            values.append(f'"{name}" - make_interval(secs => k * %(step)s::float8)')
        else:
            values.append(f'"{name}"')
    # Table and column names come from CLONES and the catalogue; every value is a parameter.
    return (
        f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(values)} "  # noqa: S608
        f"FROM {table}, generate_series(%(first)s::int, %(last)s::int) AS k WHERE {source} ORDER BY k DESC"
    )
