"""Steady state (``python -m bench --steady``): before measuring, the big tables are pre-filled to
``--steady-rows`` rows (ledger postings, history entries; transactions, holds and journal entries in
proportion) so the figures are those of a wallet that has run for months, not of empty tables.

The rows are copies of real round trips made through the API just before (A pays B, B pays A the
same amount, both SUCCESS), cloned in SQL with new ids derived the same way in every database and
dated back over ``--steady-days``. A round trip moves no money, so every balance, every account's
postings and every cross-service check of reconciliation still agree.
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
COPIES_PER_STATEMENT = 2000  # one statement's transaction stays short enough not to hold the stack up


def copies_for(*, rows: int, transaction_ids: list[str]) -> int:
    """Copies of the round trips that put at least ``rows`` rows in the biggest tables (two postings
    and two history entries per transfer)."""
    return math.ceil(rows / (2 * len(transaction_ids)))


def prefill(*, database_urls: dict[str, str], transaction_ids: list[str], copies: int, days: float) -> dict:
    """Clone the rows of ``transaction_ids`` ``copies`` times in every service database. Returns
    {table: rows now in it} and the seconds it took."""
    step_seconds = days * 86400 / max(copies, 1)
    started, counts = time.monotonic(), {}
    for database, tables in CLONES.items():
        with psycopg.connect(database_urls[database], autocommit=True) as conn:
            statements = [_clone_statement(conn, table, source, remapped) for table, source, remapped in tables]
            for first in range(1, copies + 1, COPIES_PER_STATEMENT):
                last = min(copies, first + COPIES_PER_STATEMENT - 1)
                # A database's tables in one transaction: the ledger checks at commit that every
                # journal entry has its postings.
                with conn.transaction():
                    for statement in statements:
                        conn.execute(
                            statement, {"ids": transaction_ids, "first": first, "last": last, "step": step_seconds}
                        )
            for table, _source, _remapped in tables:
                conn.execute(f"ANALYZE {table}")
                counts[table.strip('"')] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
    return {"rows": counts, "seconds": round(time.monotonic() - started, 1), "copies": copies}


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
        f"FROM {table}, generate_series(%(first)s::int, %(last)s::int) AS k WHERE {source}"
    )
