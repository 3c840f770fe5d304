-- The wallet's hot queries on a pre-filled database (python -m bench --steady; docs/benchmark.md, issue 19).
--   psql -h 127.0.0.1 -p <port> -U postgres -d wallet -f bench/sql/steady_wallet.sql
-- Read-only: every locking statement runs in a transaction that is rolled back.
-- The busiest sender and its latest hold.
SELECT from_wallet_id AS wallet, owner_id AS owner FROM wallet_hold WHERE from_wallet_id IS NOT NULL
GROUP BY from_wallet_id, owner_id ORDER BY count(*) DESC LIMIT 1 \gset
SELECT transaction_id AS tx FROM wallet_hold WHERE from_wallet_id = :'wallet' ORDER BY id DESC LIMIT 1 \gset
SELECT count(*) AS holds, count(*) FILTER (WHERE from_wallet_id = :'wallet') AS busy_wallet_holds FROM wallet_hold;

BEGIN;
-- hold_reserve: is there a hold for this transaction already (Hold.objects.filter(transaction_id=…).first())
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM wallet_hold WHERE transaction_id = :'tx' ORDER BY id ASC LIMIT 1;
-- hold_reserve: the sender's row lock (_owned_wallet(lock=True))
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM wallet WHERE id = :'wallet' AND owner_id = :owner ORDER BY id ASC LIMIT 1 FOR NO KEY UPDATE;
-- _limits_check → wallet_outgoing_used: the outgoing holds of today and of this month
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COALESCE(SUM(amount) FILTER (WHERE created_at >= date_trunc('day', now())), 0) AS daily,
       COALESCE(SUM(amount), 0) AS monthly
FROM wallet_hold
WHERE from_wallet_id = :'wallet' AND created_at >= date_trunc('month', now()) AND status IN ('RESERVED', 'CAPTURED');
-- holds_capture / holds_release (the consumer's batch): the holds of a batch of transactions, locked
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM wallet_hold WHERE transaction_id IN (:'tx') ORDER BY id ASC FOR NO KEY UPDATE;
ROLLBACK;
