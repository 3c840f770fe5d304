-- The ledger's hot queries on a pre-filled database (python -m bench --steady; issue 19).
--   psql -h 127.0.0.1 -p <port> -U postgres -d ledger -f bench/sql/steady_ledger.sql
-- Read-only: the insert runs in a transaction that is rolled back.
SELECT account_id AS account, count(*) AS busy_account_postings FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id
WHERE a.kind = 'WALLET' GROUP BY account_id ORDER BY count(*) DESC LIMIT 1 \gset
SELECT wallet_id AS wallet FROM ledger_account WHERE id = :'account' \gset
SELECT e.id AS entry, e.transaction_id AS tx FROM ledger_journal_entry e ORDER BY e.created_at DESC LIMIT 1 \gset
SELECT (SELECT count(*) FROM ledger_posting) AS postings, (SELECT count(*) FROM ledger_journal_entry) AS entries;
SELECT min(created_at) AS oldest FROM ledger_posting WHERE account_id = :'account' \gset

-- entries_post → _decisions_get: already decided? (journal entries, then rejections, by transaction id)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT transaction_id, id FROM ledger_journal_entry WHERE transaction_id IN (:'tx');
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT transaction_id, reason FROM ledger_rejection WHERE transaction_id IN (:'tx');
-- accounts_lock: the accounts of a batch, locked in id order
BEGIN;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM ledger_account WHERE id IN (:'account') ORDER BY id ASC FOR NO KEY UPDATE;
-- Posting.objects.bulk_create: one posting into the 1M-row table (its indexes' upkeep)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
INSERT INTO ledger_posting (entry_id, account_id, amount, currency, created_at)
SELECT entry_id, account_id, amount, currency, now() FROM ledger_posting WHERE entry_id = :'entry' LIMIT 1;
ROLLBACK;
-- The deferred triggers at commit (ledger_posting_balanced, ledger_entry_has_postings), per posting/entry
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT string_agg(currency || ' ' || total::text, ', ')
FROM (SELECT currency, sum(amount) AS total FROM ledger_posting WHERE entry_id = :'entry'
      GROUP BY currency HAVING sum(amount) <> 0) AS sums;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT count(*) FROM ledger_posting WHERE entry_id = :'entry';
-- account_balance: GET /wallets/{id}/balance?at= (by wallet id: the join on the account), an early
-- moment and now (the busy wallet's whole life)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT SUM(p.amount) FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id
WHERE a.wallet_id = :'wallet' AND p.created_at <= :'oldest'::timestamptz + interval '7 days';
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT SUM(p.amount) FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id
WHERE a.wallet_id = :'wallet' AND p.created_at <= now();
-- account_statement_summary and account_statement_lines: a month's statement of the busy wallet
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT SUM(amount) FILTER (WHERE created_at < now() - interval '30 days') AS opening,
       SUM(amount) FILTER (WHERE created_at >= now() - interval '30 days' AND amount > 0) AS total_in,
       SUM(amount) FILTER (WHERE created_at >= now() - interval '30 days' AND amount < 0) AS total_out
FROM ledger_posting WHERE account_id = :'account' AND created_at < now();
-- The lines are read through a server-side cursor (Django's .iterator()), which PostgreSQL plans for
-- the first rows (cursor_tuple_fraction): a plain EXPLAIN shows a hash join over a seq scan of the
-- journal, not what runs. auto_explain logs the cursor's real plan (as a NOTICE) when it is closed.
LOAD 'auto_explain';
SET auto_explain.log_min_duration = 0;
SET auto_explain.log_analyze = on;
SET auto_explain.log_level = notice;
BEGIN;
DECLARE statement_lines NO SCROLL CURSOR WITHOUT HOLD FOR
SELECT p.created_at, p.amount, e.transaction_id, e.type,
       (SELECT a.wallet_id FROM ledger_posting u JOIN ledger_account a ON a.id = u.account_id
        WHERE u.entry_id = p.entry_id AND NOT (u.id = p.id) LIMIT 1) AS counterparty_wallet_id
FROM ledger_posting p JOIN ledger_journal_entry e ON e.id = p.entry_id
WHERE p.account_id = :'account' AND p.created_at >= now() - interval '30 days' AND p.created_at < now()
ORDER BY p.created_at ASC, p.id ASC;
FETCH 1000 FROM statement_lines \g /dev/null
CLOSE statement_lines;
COMMIT;
