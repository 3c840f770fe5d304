-- Balance at a time on >= 1 million postings: the query plan (docs/benchmark.md, decision 0012).
-- Run against a SCRATCH ledger database (migrated, empty), never a real one:
--   psql -h 127.0.0.1 -p <port> -U postgres -d ledger_scratch -f bench/sql/postings_balance_at.sql
-- 500,000 deposits from the outside world over five years = 1,000,000 postings; one busy wallet
-- (account 0) gets every other one (250,000 postings), the rest spread over 999 wallets.
BEGIN;
INSERT INTO ledger_account (id, kind, wallet_id, currency, balance, created_at)
SELECT ('00000000-0000-0000-0000-' || lpad(to_hex(n), 12, '0'))::uuid, 'WALLET',
       ('10000000-0000-0000-0000-' || lpad(to_hex(n), 12, '0'))::uuid, 'EUR', 0, now()
FROM generate_series(0, 999) AS n;
INSERT INTO ledger_account (id, kind, wallet_id, currency, balance, created_at)
VALUES ('ffffffff-0000-0000-0000-000000000000', 'EXTERNAL', NULL, 'EUR', 0, now());
INSERT INTO ledger_journal_entry (id, transaction_id, type, created_at)
SELECT ('20000000-0000-0000-0000-' || lpad(to_hex(n), 12, '0'))::uuid, gen_random_uuid(), 'DEPOSIT',
       timestamptz '2021-01-01' + n * interval '5 minutes 15 seconds'
FROM generate_series(1, 500000) AS n;
INSERT INTO ledger_posting (entry_id, account_id, amount, currency, created_at)
SELECT e.id, side.account_id, side.amount, 'EUR', e.created_at
FROM (SELECT id, created_at, row_number() OVER (ORDER BY created_at) AS n FROM ledger_journal_entry) AS e
CROSS JOIN LATERAL (VALUES
    ('ffffffff-0000-0000-0000-000000000000'::uuid, -1.0000),
    (('00000000-0000-0000-0000-' || lpad(to_hex(CASE WHEN e.n % 2 = 0 THEN 0 ELSE e.n % 1000 END), 12, '0'))::uuid,
     1.0000)
) AS side (account_id, amount);
COMMIT;
VACUUM ANALYZE ledger_posting;
SELECT count(*) AS postings FROM ledger_posting;
SELECT count(*) AS busy_wallet_postings FROM ledger_posting WHERE account_id = '00000000-0000-0000-0000-000000000000';

-- What selectors.account_balance runs for GET /wallets/{id}/balance?at= an old date (2021-03-01)...
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT SUM(amount) FROM ledger_posting
WHERE account_id = '00000000-0000-0000-0000-000000000000' AND created_at <= '2021-03-01T00:00:00Z';
-- ... and a recent one (the busy wallet's whole life: the worst case of the index).
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT SUM(amount) FROM ledger_posting
WHERE account_id = '00000000-0000-0000-0000-000000000000' AND created_at <= '2026-01-01T00:00:00Z';
-- A month's statement of the busy wallet: the summary aggregate and the lines' range scan.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT SUM(amount) FILTER (WHERE created_at < '2023-06-01'),
       SUM(amount) FILTER (WHERE created_at >= '2023-06-01' AND amount > 0),
       SUM(amount) FILTER (WHERE created_at >= '2023-06-01' AND amount < 0)
FROM ledger_posting WHERE account_id = '00000000-0000-0000-0000-000000000000' AND created_at < '2023-07-01';
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT created_at, amount FROM ledger_posting
WHERE account_id = '00000000-0000-0000-0000-000000000000' AND created_at >= '2023-06-01' AND created_at < '2023-07-01'
ORDER BY created_at, id;
