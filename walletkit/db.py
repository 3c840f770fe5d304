"""Connection upkeep for the long-running workers (consumer loops, relays), and the set-based UPDATE
their batches write with."""

from __future__ import annotations

import time
from collections.abc import Sequence

from django.db import close_old_connections, connection
from django.db.models import Model


class ConnectionUpkeep:
    """``close_old_connections()`` — Django's per-request upkeep: drop a connection past
    CONN_MAX_AGE, health-check it (``SELECT 1``) before its next use — at most once per ``every``
    seconds. Called per loop iteration it cost a ``SELECT 1`` per batch under load; a connection
    that breaks between two upkeeps fails its next statement instead, which the loops already
    handle (close, retry)."""

    def __init__(self, every: float = 1.0) -> None:
        self.every = every
        self._done_at = float("-inf")

    def __call__(self) -> None:
        now = time.monotonic()
        if now - self._done_at >= self.every:
            self._done_at = now
            close_old_connections()


def rows_update(rows: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of model instances (one model) in ONE ``UPDATE … FROM (VALUES …)``, by primary key.

    What ``QuerySet.bulk_update`` does, but bulk_update builds a ``CASE WHEN pk = … THEN …`` expression
    per row and field, and resolving those expressions was a large share of a consumer's CPU at small
    batches (docs/benchmark.md). Values are prepared by each field (``get_db_prep_save``) and cast
    to its column type, so they mean exactly what ``save()`` would write. Returns the rows updated.
    """
    if not rows:
        return 0
    meta = type(rows[0])._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    casts = ", ".join(f"%s::{field.db_type(connection)}" for field in columns)
    # As bulk_update: the attribute values as they are (auto_now fields are not touched: set them).
    params = [field.get_db_prep_save(getattr(row, field.attname), connection) for row in rows for field in columns]
    # Only names from the model's own metadata (quoted) are formatted in; every value is a parameter.
    quote = connection.ops.quote_name
    table, pk, names = quote(meta.db_table), quote(meta.pk.column), [quote(field.column) for field in columns]
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    values = ", ".join([f"({casts})"] * len(rows))
    sql = f"UPDATE {table} AS t SET {assignments} FROM (VALUES {values}) AS v({', '.join(names)}) WHERE t.{pk} = v.{pk}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
