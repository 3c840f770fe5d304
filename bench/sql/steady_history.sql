-- The history service's hot queries on a pre-filled database (python -m bench --steady; issue 19).
--   psql -h 127.0.0.1 -p <port> -U postgres -d history -f bench/sql/steady_history.sql
SELECT owner_id AS owner, wallet_id AS wallet FROM history_entry WHERE owner_id IS NOT NULL
GROUP BY owner_id, wallet_id ORDER BY count(*) DESC LIMIT 1 \gset
SELECT count(*) AS entries, count(*) FILTER (WHERE wallet_id = :'wallet') AS busy_wallet_entries FROM history_entry;
SELECT occurred_at AS cursor_at, id AS cursor_id FROM history_entry WHERE owner_id = :owner
ORDER BY occurred_at DESC, id DESC OFFSET 1000 LIMIT 1 \gset

-- history_entry_page: GET /activity, first page (limit 20 + 1) ...
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM history_entry WHERE owner_id = :owner ORDER BY occurred_at DESC, id DESC LIMIT 21;
-- ... and a cursor page
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM history_entry WHERE owner_id = :owner
  AND (occurred_at < :'cursor_at' OR (occurred_at = :'cursor_at' AND id < :'cursor_id'))
ORDER BY occurred_at DESC, id DESC LIMIT 21;
-- A wallet's history with changed_since (the websocket's catch-up after a reconnect: the last minute)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM history_entry WHERE owner_id = :owner AND wallet_id = :'wallet' AND updated_at >= now() - interval '1 minute'
ORDER BY occurred_at DESC, id DESC LIMIT 21;
-- wallet_is_owned_by (every wallet-scoped read)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT 1 FROM history_entry WHERE wallet_id = :'wallet' AND owner_id = :owner LIMIT 1;
