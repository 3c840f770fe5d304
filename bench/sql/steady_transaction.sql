-- The transaction service's hot queries on a pre-filled database (python -m bench --steady; issue 19).
--   psql -h 127.0.0.1 -p <port> -U postgres -d transaction -f bench/sql/steady_transaction.sql
-- Read-only: the sweeper's claim runs in a transaction that is rolled back.
SELECT owner_id AS user_id FROM "transaction" GROUP BY owner_id ORDER BY count(*) DESC LIMIT 1 \gset
SELECT count(*) AS transactions,
       count(*) FILTER (WHERE owner_id = :user_id OR counterparty_owner_id = :user_id) AS busy_user_transactions,
       count(*) FILTER (WHERE status IN ('INITIATED', 'RESERVED')) AS open_sagas
FROM "transaction";
-- The cursor of page 50 (1000 rows down the busy user's list).
SELECT created_at AS cursor_at, id AS cursor_id FROM "transaction"
WHERE owner_id = :user_id OR counterparty_owner_id = :user_id
ORDER BY created_at DESC, id DESC OFFSET 1000 LIMIT 1 \gset

-- transaction_list_for_user: GET /transactions, first page (limit 20 + 1), as it is now: what the user
-- sent UNION ALL what they received, each an index range cut at the page's size ...
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
(SELECT * FROM "transaction" WHERE owner_id = :user_id ORDER BY created_at DESC, id DESC LIMIT 21)
UNION ALL
(SELECT * FROM "transaction" WHERE counterparty_owner_id = :user_id AND NOT (owner_id = :user_id)
 ORDER BY created_at DESC, id DESC LIMIT 21)
ORDER BY created_at DESC, id DESC LIMIT 21;
-- ... and a cursor page
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
(SELECT * FROM "transaction" WHERE owner_id = :user_id AND created_at <= :'cursor_at'
   AND (created_at < :'cursor_at' OR (created_at = :'cursor_at' AND id < :'cursor_id'))
 ORDER BY created_at DESC, id DESC LIMIT 21)
UNION ALL
(SELECT * FROM "transaction" WHERE counterparty_owner_id = :user_id AND NOT (owner_id = :user_id)
   AND created_at <= :'cursor_at' AND (created_at < :'cursor_at' OR (created_at = :'cursor_at' AND id < :'cursor_id'))
 ORDER BY created_at DESC, id DESC LIMIT 21)
ORDER BY created_at DESC, id DESC LIMIT 21;
-- Before (the one OR of both sides, until issue 19's steady run): a seq scan or a bitmap of every row
-- of the user, then a top-N sort of them all.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM "transaction" WHERE (owner_id = :user_id OR counterparty_owner_id = :user_id)
ORDER BY created_at DESC, id DESC LIMIT 21;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM "transaction"
WHERE (owner_id = :user_id OR counterparty_owner_id = :user_id)
  AND (created_at < :'cursor_at' OR (created_at = :'cursor_at' AND id < :'cursor_id'))
ORDER BY created_at DESC, id DESC LIMIT 21;
-- sagas_overloaded → transaction_open_count: the backpressure's in-flight count
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT count(*) FROM "transaction" WHERE status IN ('INITIATED', 'RESERVED');
-- transaction_sweep_claim: the sweeper's scan for overdue sagas
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM "transaction" WHERE status IN ('INITIATED', 'RESERVED') AND next_check_at <= now()
ORDER BY next_check_at ASC LIMIT 100 FOR NO KEY UPDATE SKIP LOCKED;
ROLLBACK;
-- saga_stuck_list (the reconciler): open sagas older than the deadline
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id, status FROM "transaction" WHERE status IN ('INITIATED', 'RESERVED') AND created_at < now() - interval '10 minutes'
ORDER BY created_at ASC, id ASC LIMIT 100;
