--
-- twophase: PREPARE TRANSACTION is decoded at prepare time when the slot
-- has two_phase (or the 'two-phase' option is given); COMMIT PREPARED and
-- ROLLBACK PREPARED follow as their own messages.
--
SHOW max_prepared_transactions;
SELECT 'init' FROM pg_create_logical_replication_slot('tp', 'wal2proto', false, true);
SELECT two_phase FROM pg_replication_slots WHERE slot_name = 'tp';
CREATE TABLE tpt (id int PRIMARY KEY, v text);

-- prepare, then commit prepared
BEGIN;
INSERT INTO tpt VALUES (1, 'one');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'tp', 'prepared message');
PREPARE TRANSACTION 'gid 1';
SELECT * FROM w2p('tp');
COMMIT PREPARED 'gid 1';
SELECT * FROM w2p('tp');

-- prepare, then rollback prepared
BEGIN;
INSERT INTO tpt VALUES (2, 'two');
UPDATE tpt SET v = 'uno' WHERE id = 1;
PREPARE TRANSACTION 'gid ''2'' 😀';
SELECT * FROM w2p('tp');
ROLLBACK PREPARED 'gid ''2'' 😀';
SELECT * FROM w2p('tp');
SELECT * FROM tpt ORDER BY id;

-- prepare and commit prepared before decoding: both in one read
BEGIN;
DELETE FROM tpt;
PREPARE TRANSACTION 'gid 3';
COMMIT PREPARED 'gid 3';
SELECT * FROM w2p('tp');

-- the LSNs and times hang together
BEGIN;
INSERT INTO tpt VALUES (4, 'four');
PREPARE TRANSACTION 'gid 4';
ROLLBACK PREPARED 'gid 4';
BEGIN;
INSERT INTO tpt VALUES (5, 'five');
PREPARE TRANSACTION 'gid 5';
COMMIT PREPARED 'gid 5';
CREATE TEMP TABLE raw AS SELECT n, m FROM w2p_raw_peek('tp', 'include-xids', 'on')
    WITH ORDINALITY AS a(m, n);
SELECT bp.m #>> '{begin_prepare,prepare_lsn}' = p.m #>> '{prepare,prepare_lsn}' AS same_prepare_lsn,
       bp.m #>> '{begin_prepare,end_lsn}' = p.m #>> '{prepare,end_lsn}' AS same_end_lsn,
       (p.m #>> '{prepare,end_lsn}')::pg_lsn > (p.m #>> '{prepare,prepare_lsn}')::pg_lsn AS end_after_prepare,
       bp.m #>> '{begin_prepare,xid}' = p.m #>> '{prepare,xid}' AS same_xid,
       bp.m #>> '{begin_prepare,gid}' AS gid,
       bp.m #>> '{begin_prepare,prepare_time}' = p.m #>> '{prepare,prepare_time}' AS same_time
  FROM raw bp JOIN raw p ON p.n > bp.n AND p.m ? 'prepare'
 WHERE bp.m ? 'begin_prepare'
   AND p.m #>> '{prepare,gid}' = bp.m #>> '{begin_prepare,gid}'
 ORDER BY bp.n;
SELECT m #>> '{rollback_prepared,gid}' AS gid,
       (m #>> '{rollback_prepared,rollback_end_lsn}')::pg_lsn
           > (m #>> '{rollback_prepared,prepare_end_lsn}')::pg_lsn AS rollback_after_prepare,
       (m #>> '{rollback_prepared,prepare_end_lsn}') =
           (SELECT r.m #>> '{prepare,end_lsn}' FROM raw r
             WHERE r.m #>> '{prepare,gid}' = 'gid 4') AS prepare_end_lsn_matches,
       (m #>> '{rollback_prepared,rollback_time}')::bigint
           >= (m #>> '{rollback_prepared,prepare_time}')::bigint AS times_ordered,
       m #>> '{rollback_prepared,xid}' = (SELECT r.m #>> '{prepare,xid}' FROM raw r
                                           WHERE r.m #>> '{prepare,gid}' = 'gid 4') AS same_xid
  FROM raw WHERE m ? 'rollback_prepared';
SELECT m #>> '{commit_prepared,gid}' AS gid,
       (m #>> '{commit_prepared,end_lsn}')::pg_lsn > (m #>> '{commit_prepared,commit_lsn}')::pg_lsn AS end_after_commit,
       (m #>> '{commit_prepared,commit_lsn}')::pg_lsn >= (SELECT (r.m #>> '{prepare,end_lsn}')::pg_lsn FROM raw r
             WHERE r.m #>> '{prepare,gid}' = 'gid 5') AS commit_after_prepare,
       m #>> '{commit_prepared,xid}' = (SELECT r.m #>> '{prepare,xid}' FROM raw r
                                         WHERE r.m #>> '{prepare,gid}' = 'gid 5') AS same_xid
  FROM raw WHERE m ? 'commit_prepared';
-- two-phase messages carry their xid even with include-xids off;
-- include-timestamp off drops their times
SELECT k, bool_and(m -> k ? 'xid') AS has_xid,
       bool_or(m -> k ? 'prepare_time' OR m -> k ? 'commit_time'
               OR m -> k ? 'rollback_time') AS has_time
  FROM w2p_raw_peek('tp', 'include-xids', 'off', 'include-timestamp', 'off') AS m,
       jsonb_object_keys(m) AS k
 WHERE k NOT IN ('relation', 'insert')
 GROUP BY k ORDER BY k;
DROP TABLE raw;
SELECT count(*) FROM w2p('tp');

-- a prepared transaction whose changes are all filtered out is still sent
-- as BeginPrepare/Prepare (COMMIT PREPARED may be decoded in a later
-- session, which cannot know that nothing was sent)
CREATE TABLE tp_excluded (id int);
BEGIN;
INSERT INTO tp_excluded VALUES (1);
PREPARE TRANSACTION 'excluded only';
COMMIT PREPARED 'excluded only';
SELECT * FROM w2p('tp', 'exclude-tables', 'public.tp_excluded');
DROP TABLE tp_excluded;

-- a large prepared transaction with streaming on: stream blocks, then
-- stream_prepare; commit prepared follows
BEGIN;
INSERT INTO tpt SELECT i, repeat('p', 20) FROM generate_series(100, 3099) AS i;
PREPARE TRANSACTION 'big';
SELECT kind, CASE WHEN kind IN ('stream_start', 'stream_stop') AND n > 1
                  THEN 'several' ELSE n::text END AS n
  FROM w2p_counts('tp', 'streaming', 'on') ORDER BY kind;
COMMIT PREPARED 'big';
SELECT * FROM w2p('tp', 'streaming', 'on');

-- the same with a rolled back subtransaction, then ROLLBACK PREPARED: the
-- subtransaction's streamed rows are discarded by a StreamAbort before
-- StreamPrepare
BEGIN;
SELECT pg_current_xact_id()::xid AS top \gset
INSERT INTO tpt SELECT i, 'top' FROM generate_series(10000, 12999) AS i;
SAVEPOINT a;
INSERT INTO tpt SELECT i, 'sub' FROM generate_series(20000, 22999) AS i;
ROLLBACK TO SAVEPOINT a;
PREPARE TRANSACTION 'big rolled back';
CREATE TEMP TABLE raw AS SELECT n, m FROM w2p_raw_peek('tp', 'streaming', 'on')
    WITH ORDINALITY AS a(m, n);
SELECT k, CASE WHEN k IN ('stream_start', 'stream_stop') AND count(*) > 1 THEN 'several'
               WHEN k = 'insert' THEN NULL
               ELSE count(*)::text END AS n
  FROM raw, jsonb_object_keys(m) AS k GROUP BY k ORDER BY min(n);
SELECT count(*) FILTER (WHERE m #>> '{insert,xid}' = :'top') AS top_rows,
       count(*) FILTER (WHERE m #>> '{insert,xid}' = (SELECT m #>> '{stream_abort,subxid}'
                                                        FROM raw WHERE m ? 'stream_abort')) > 0
           AS discarded_rows_were_streamed,
       max(n) FILTER (WHERE m #>> '{insert,new_tuple,values,1,text_value}' = 'sub')
           < (SELECT n FROM raw WHERE m ? 'stream_abort') AS discarded_before_abort,
       (SELECT m #>> '{stream_abort,xid}' = :'top' FROM raw WHERE m ? 'stream_abort') AS abort_names_top,
       (SELECT m #>> '{stream_prepare,gid}' FROM raw WHERE m ? 'stream_prepare') AS gid
  FROM raw WHERE m ? 'insert';
DROP TABLE raw;
SELECT count(*) > 0 AS consumed FROM w2p('tp', 'streaming', 'on');
ROLLBACK PREPARED 'big rolled back';
SELECT * FROM w2p('tp', 'streaming', 'on');
SELECT pg_drop_replication_slot('tp');

-- the 'two-phase' option turns two-phase decoding on for a slot created
-- without it (from then on)
SELECT 'init' FROM pg_create_logical_replication_slot('tp2', 'wal2proto');
SELECT two_phase FROM pg_replication_slots WHERE slot_name = 'tp2';
SELECT * FROM w2p('tp2', 'two-phase', 'on');
-- PostgreSQL records it in the slot
SELECT two_phase FROM pg_replication_slots WHERE slot_name = 'tp2';
BEGIN;
INSERT INTO tpt VALUES (6, 'six');
PREPARE TRANSACTION 'gid 6';
SELECT * FROM w2p('tp2', 'two-phase', 'on');
COMMIT PREPARED 'gid 6';
SELECT * FROM w2p('tp2', 'two-phase', 'on');
SELECT pg_drop_replication_slot('tp2');

-- on a slot without two-phase, a prepared transaction is sent as an
-- ordinary one when it commits
SELECT 'init' FROM pg_create_logical_replication_slot('tp3', 'wal2proto');
BEGIN;
INSERT INTO tpt VALUES (7, 'seven');
PREPARE TRANSACTION 'gid 7';
SELECT * FROM w2p('tp3');
COMMIT PREPARED 'gid 7';
SELECT * FROM w2p('tp3');
SELECT pg_drop_replication_slot('tp3');
DROP TABLE tpt;
