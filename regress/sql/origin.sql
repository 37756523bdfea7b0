--
-- origin: transactions replayed under a replication origin carry its name
-- (include-origin); origin=none drops them.
--
SELECT 'init' FROM pg_create_logical_replication_slot('orig', 'wal2proto');
CREATE TABLE ot (id int PRIMARY KEY, v text);
SELECT pg_replication_origin_create('upstream') IS NOT NULL AS created;

-- a local transaction
INSERT INTO ot VALUES (1, 'local');
-- replayed from 'upstream', with the remote commit LSN and time
SELECT pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('1/2345678', '2020-01-02 03:04:05.678901+00');
INSERT INTO ot VALUES (2, 'remote');
UPDATE ot SET v = 'remote, changed' WHERE id = 1;
COMMIT;
-- replayed without a new xact_setup: PostgreSQL keeps the session's last
-- origin LSN and time for it
INSERT INTO ot VALUES (3, 'remote, again');
SELECT pg_replication_origin_session_reset();
-- local again
DELETE FROM ot WHERE id = 3;

-- origin=any (the default): everything, the replayed ones with origin
SELECT * FROM w2p_peek('orig');
SELECT * FROM w2p_peek('orig', 'origin', 'any', 'include-origin', 'on');
-- include-origin off: same changes, no origin fields
SELECT m -> 'begin' AS begin FROM w2p_peek('orig', 'include-origin', 'off') AS m
 WHERE m ? 'begin';
-- origin=none: only the local transactions
SELECT * FROM w2p_peek('orig', 'origin', 'none');

-- Begin of the replayed transaction: the origin's commit time is what
-- PostgreSQL reports as the commit time, and it is exact
SELECT m #>> '{begin,origin}' AS origin,
       m #>> '{begin,origin_lsn}' AS origin_lsn,
       (m #>> '{begin,commit_time}')::bigint AS commit_time,
       (m #>> '{begin,commit_time}')::bigint
           = (extract(epoch FROM timestamptz '2020-01-02 03:04:05.678901+00') * 1000000)::bigint AS time_exact
  FROM w2p_raw_peek('orig') AS m
 WHERE m #>> '{begin,origin}' IS NOT NULL;
-- the local ones have no origin but a commit time of this run
SELECT count(*) AS local_begins,
       bool_and(to_timestamp((m #>> '{begin,commit_time}')::bigint / 1000000.0)
                BETWEEN now() - interval '10 minutes' AND now() + interval '1 minute') AS recent
  FROM w2p_raw_peek('orig') AS m
 WHERE m ? 'begin' AND NOT m -> 'begin' ? 'origin';

SELECT count(*) FROM w2p('orig');
SELECT pg_drop_replication_slot('orig');

-- prepared and streamed transactions replayed from an origin: BeginPrepare
-- carries the origin; origin=none drops them whole (no CommitPrepared
-- either), and keeps the local one
SELECT 'init' FROM pg_create_logical_replication_slot('orig2', 'wal2proto', false, true);
SELECT pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('2/ABCDEF', '2021-01-01 00:00:00+00');
INSERT INTO ot VALUES (10, 'prepared remote');
PREPARE TRANSACTION 'remote gid';
COMMIT PREPARED 'remote gid';
INSERT INTO ot SELECT i, 'streamed remote' FROM generate_series(1000, 5999) AS i;
SELECT pg_replication_origin_session_reset();
INSERT INTO ot VALUES (11, 'local');
SELECT m FROM w2p_peek('orig2') AS m
 WHERE m ? 'begin_prepare' OR m ? 'begin';
SELECT k, CASE WHEN k IN ('stream_start', 'stream_stop') AND count(*) > 1
               THEN 'several' ELSE count(*)::text END AS n
  FROM w2p_peek('orig2', 'streaming', 'on') AS m, jsonb_object_keys(m) AS k
 GROUP BY k ORDER BY k;
-- the first block of the streamed transaction names its origin
SELECT m FROM w2p_peek('orig2', 'streaming', 'on') AS m
 WHERE m #>> '{stream_start,first_segment}' = 'true';
SELECT * FROM w2p('orig2', 'origin', 'none', 'streaming', 'on');
SELECT pg_drop_replication_slot('orig2');
SELECT pg_replication_origin_drop('upstream');
DROP TABLE ot;
