"""GET /transactions on a big table: a page reads about a page, whatever the user's history
(issue 19's steady state: an OR of "mine" and "received" read every row of the user and sorted them)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from transactions.models import Transaction
from transactions.selectors import reconciliation_transaction_changed_page, transaction_list_for_user
from transactions.tests.factories import TransactionFactory

pytestmark = pytest.mark.django_db

SENT, RECEIVED, OTHERS = 4000, 4000, 12000


def _fill() -> None:
    """User 1 sent SENT and received RECEIVED transfers, other users made OTHERS, one a second apart."""
    template = TransactionFactory(owner_id=1, counterparty_owner_id=2)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO "transaction" (id, type, status, amount, currency, from_wallet_id, to_wallet_id, owner_id,
                counterparty_owner_id, idempotency_key, request_fingerprint, response_status, response_body,
                created_at, updated_at, next_check_at, sweep_attempts)
            SELECT gen_random_uuid(), type, 'SUCCESS', amount, currency, from_wallet_id, to_wallet_id,
                   CASE WHEN n <= %(sent)s THEN 1 WHEN n <= %(sent)s + %(received)s THEN 2 ELSE 3 + n %% 50 END,
                   CASE WHEN n <= %(sent)s THEN 2 WHEN n <= %(sent)s + %(received)s THEN 1 ELSE 4 END,
                   'fill-' || n, request_fingerprint, response_status, response_body,
                   now() - n * interval '1 second', now(), next_check_at, 0
            FROM "transaction", generate_series(1, %(total)s) AS n WHERE id = %(template)s
            """,
            {"sent": SENT, "received": RECEIVED, "total": SENT + RECEIVED + OTHERS, "template": template.id},
        )
        cursor.execute('ANALYZE "transaction"')


def _rows_read(sql: str) -> int:
    """Rows the plan's scans returned (EXPLAIN ANALYZE): what the page cost the database."""
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def scanned(node: dict) -> int:
        own = node["Actual Rows"] * node.get("Actual Loops", 1) if "Scan" in node["Node Type"] else 0
        return own + sum(scanned(child) for child in node.get("Plans", []))

    return int(scanned(plan[0]["Plan"]))


def _page_cost(**kwargs) -> tuple[list[Transaction], str | None, int]:
    """A page, its next cursor, and the rows its one query read."""
    with CaptureQueriesContext(connection) as queries:
        page, cursor = transaction_list_for_user(user_id=1, limit=20, **kwargs)
    (query,) = queries.captured_queries  # the SQL as sent, its values bound
    return page, cursor, _rows_read(query["sql"])


def test_a_page_of_a_user_with_thousands_of_transactions_reads_a_page_not_the_history():
    _fill()

    first, cursor, first_cost = _page_cost()
    deep = None
    for _ in range(30):  # 600 rows down
        deep, cursor, deep_cost = _page_cost(cursor=cursor)

    assert [tx.owner_id == 1 or tx.counterparty_owner_id == 1 for tx in first + deep] == [True] * 40
    assert first[0].created_at > first[-1].created_at > deep[0].created_at
    # Two index ranges cut at the page's size (21 each), not SENT + RECEIVED rows.
    assert first_cost <= 2 * 21 + 2
    assert deep_cost <= 2 * 21 + 2


def test_a_transfer_to_ones_own_wallet_is_listed_once():
    now = timezone.now()
    own = TransactionFactory(owner_id=1, counterparty_owner_id=1)
    sent = TransactionFactory(owner_id=1, counterparty_owner_id=2)
    Transaction.objects.filter(id=sent.id).update(created_at=now - timedelta(seconds=1))

    page, cursor = transaction_list_for_user(user_id=1, limit=20)

    assert ([tx.id for tx in page], cursor) == ([own.id, sent.id], None)


def _plan_nodes(sql: str) -> list[dict]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan

    def walk(node: dict) -> list[dict]:
        return [node] + [n for child in node.get("Plans", []) for n in walk(child)]

    return walk(plan[0]["Plan"])


def test_reconciliations_changed_since_page_is_an_index_range_not_the_history():
    """Incremental reconciliation asks for what changed since its watermark: an index range on
    (updated_at, id) cut at the page's size, whatever the table's size (here 20,000 rows, 60 in the window)."""
    _fill()
    Transaction.objects.filter(idempotency_key__in=[f"fill-{n}" for n in range(1, 61)]).update(
        updated_at=timezone.now() + timedelta(hours=1)
    )
    with connection.cursor() as cursor:
        cursor.execute('ANALYZE "transaction"')
    since = timezone.now() + timedelta(minutes=30)
    seen, cursor_ = [], None
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            page, cursor_ = reconciliation_transaction_changed_page(changed_since=since, after=cursor_, limit=25)
        seen += [row["id"] for row in page]
        (query,) = queries.captured_queries
        nodes = _plan_nodes(query["sql"])
        scans = [(n["Node Type"], n.get("Index Name")) for n in nodes if "Scan" in n["Node Type"]]
        # Index (or, for a window this small, bitmap index) ranges of transaction_changed: never the table.
        assert {index for kind, index in scans if kind != "Bitmap Heap Scan"} == {"transaction_changed"}, scans
        assert _rows_read(query["sql"]) <= 3 * 60  # of 20,000
    assert len(seen) == len(set(seen)) == 60 and cursor_ is None
