-- The outbox relay's and the consumers' inbox queries on a pre-filled database (python -m bench --steady;
-- issue 19). Every service database has both tables:
--   psql -h 127.0.0.1 -p <port> -U postgres -d wallet -f bench/sql/steady_delivery.sql
-- Read-only: the claims run in a transaction that is rolled back.
SELECT (SELECT count(*) FROM outbox_event) AS outbox_rows, (SELECT count(*) FROM inbox_event) AS inbox_rows,
       (SELECT count(*) FROM outbox_event WHERE published_at IS NULL) AS unpublished;
SELECT consumer, event_id AS seen_event FROM inbox_event ORDER BY id DESC LIMIT 1 \gset

BEGIN;
-- OutboxRelay.relay_batch: claim the oldest unpublished rows
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id, topic, key, envelope FROM outbox_event WHERE published_at IS NULL ORDER BY id ASC LIMIT 500
FOR UPDATE SKIP LOCKED;
-- outbox_backlog (the metrics)
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT count(*) FROM outbox_event WHERE published_at IS NULL;
-- INBOX_CLAIM (walletkit/inbox/loop.py): one new event and one already applied
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
INSERT INTO inbox_event (consumer, event_id, event_type, topic, partition, "offset", processed_at)
VALUES (:'consumer', gen_random_uuid(), 'x', 't', 0, 0, now()), (:'consumer', :'seen_event', 'x', 't', 0, 0, now())
ON CONFLICT (consumer, event_id) DO NOTHING RETURNING consumer, event_id;
ROLLBACK;
