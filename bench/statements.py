"""Statements each service's database ran per completed transfer (pg_stat_statements).

Counts, not CPU: a count does not depend on the machine's other load, so it compares runs made on
different days; a change that removes a query per transfer shows here exactly. Besides the clients'
statements (BEGIN and COMMIT included) the count holds what PostgreSQL runs after a statement on its
behalf and reports on its own: foreign-key checks and the ledger's deferred constraint triggers.
"""

from __future__ import annotations

import psycopg

SERVICE_DATABASES = ("gateway", "transaction", "wallet", "ledger", "history")


def _connect(server_url: str) -> psycopg.Connection:
    return psycopg.connect(server_url.rsplit("/", 1)[0] + "/postgres", autocommit=True, connect_timeout=5)


def reset(server_url: str) -> bool:
    """Zero the counters; False when the server does not preload pg_stat_statements."""
    try:
        with _connect(server_url) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
        return True
    except psycopg.Error:
        return False


def counted(server_url: str, *, most_frequent: int = 15) -> tuple[dict[str, int], dict[str, list[tuple[int, str]]]]:
    """Statements each service database ran since the reset, and its most frequent ones:
    ``({database: calls}, {database: [(calls, the statement's first 200 characters)]})``."""
    databases = list(SERVICE_DATABASES)
    with _connect(server_url) as conn:
        calls = conn.execute(
            "SELECT d.datname, sum(s.calls)::bigint FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = ANY(%s) GROUP BY d.datname",
            [databases],
        ).fetchall()
        ranked = conn.execute(
            "SELECT datname, calls, query FROM (SELECT d.datname, s.calls, regexp_replace(s.query, '\\s+', ' ', 'g') "
            "AS query, row_number() OVER (PARTITION BY d.datname ORDER BY s.calls DESC) AS rank "
            "FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = ANY(%s)) ranked "
            "WHERE rank <= %s ORDER BY datname, calls DESC",
            [databases, most_frequent],
        ).fetchall()
    frequent: dict[str, list[tuple[int, str]]] = {}
    for database, count, query in ranked:
        frequent.setdefault(database, []).append((count, query[:200]))
    return dict(calls), frequent
