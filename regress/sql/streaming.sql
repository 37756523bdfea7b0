--
-- streaming: with 'streaming' on, a transaction larger than
-- logical_decoding_work_mem (64kB here) is sent in stream blocks before it
-- ends, then StreamCommit or StreamAbort.  How many blocks there are depends
-- on memory accounting, so the tests count messages per kind and check the
-- block structure instead of printing thousands of rows.
--
SHOW logical_decoding_work_mem;
SELECT 'init' FROM pg_create_logical_replication_slot('strm', 'wal2proto');
CREATE TABLE st (id int PRIMARY KEY, v text);

CREATE TEMP TABLE msgs (n bigint, m jsonb);
-- peek at the slot (raw, with xids) into msgs
CREATE FUNCTION load(VARIADIC options text[] DEFAULT '{}') RETURNS bigint
LANGUAGE sql AS $$
    DELETE FROM msgs;
    INSERT INTO msgs
        SELECT n, m FROM w2p_messages('strm', true, false, options)
                         WITH ORDINALITY AS a(m, n);
    SELECT count(*) FROM msgs;
$$;
CREATE FUNCTION kind(m jsonb) RETURNS text LANGUAGE sql AS $$
    SELECT k FROM jsonb_object_keys(m) AS k
$$;
-- messages per kind, in order of first appearance; the number of stream
-- blocks is only said to be several
CREATE FUNCTION summary() RETURNS TABLE (kind text, n text) LANGUAGE sql AS $$
    SELECT kind(m),
           CASE WHEN kind(m) IN ('stream_start', 'stream_stop') AND count(*) > 1
                THEN 'several' ELSE count(*)::text END
      FROM msgs GROUP BY kind(m) ORDER BY min(n)
$$;
-- stream blocks nest properly: every change is inside a block, blocks do
-- not nest, the transaction's end comes outside any block
CREATE FUNCTION blocks_ok() RETURNS bool LANGUAGE plpgsql AS $$
DECLARE
    inside bool := false;
    k text;
BEGIN
    FOR k IN SELECT kind(m) FROM msgs ORDER BY n LOOP
        IF k = 'stream_start' THEN
            IF inside THEN RETURN false; END IF;
            inside := true;
        ELSIF k = 'stream_stop' THEN
            IF NOT inside THEN RETURN false; END IF;
            inside := false;
        ELSIF k IN ('stream_commit', 'stream_abort', 'stream_prepare') THEN
            IF inside THEN RETURN false; END IF;
        ELSIF NOT inside THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN NOT inside;
END
$$;

-- 1. a large transaction that commits, with a logical message in it
BEGIN;
SELECT pg_current_xact_id()::xid AS top \gset
INSERT INTO st SELECT i, repeat('x', 20) FROM generate_series(1, 5000) AS i;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'streamed', 'in the middle');
UPDATE st SET v = 'y' WHERE id <= 10;
COMMIT;
-- without streaming: one ordinary transaction
SELECT load();
SELECT * FROM summary();
-- with streaming: blocks, then stream_commit
SELECT load('streaming', 'on') > 0 AS sent;
SELECT * FROM summary();
SELECT blocks_ok();
SELECT count(*) FILTER (WHERE (m #>> '{stream_start,first_segment}')::bool) AS first_segments,
       count(*) FILTER (WHERE NOT m -> 'stream_start' ? 'first_segment') > 0 AS later_segments
  FROM msgs WHERE m ? 'stream_start';
SELECT kind(m) = 'stream_start' AND (m #>> '{stream_start,first_segment}')::bool
       AS first_is_first_segment
  FROM msgs WHERE n = 1;
-- every message carries the transaction's xid
SELECT kind(m), count(*) FILTER (WHERE m -> kind(m) ->> 'xid' = :'top') AS with_xid,
       count(*) FILTER (WHERE m -> kind(m) ->> 'xid' IS DISTINCT FROM :'top') AS other
  FROM msgs WHERE kind(m) NOT IN ('stream_start', 'stream_stop', 'relation')
 GROUP BY 1 ORDER BY 1;
SELECT bool_and(m #>> '{stream_start,xid}' = :'top') AS stream_starts_with_xid
  FROM msgs WHERE m ? 'stream_start';
SELECT m #>> '{stream_commit,commit_lsn}' IS NOT NULL AS has_commit_lsn,
       (m #>> '{stream_commit,end_lsn}')::pg_lsn > (m #>> '{stream_commit,commit_lsn}')::pg_lsn AS end_after_commit,
       to_timestamp((m #>> '{stream_commit,commit_time}')::bigint / 1e6)
           BETWEEN now() - interval '10 minutes' AND now() AS recent
  FROM msgs WHERE m ? 'stream_commit';
-- the values are all there, in order
SELECT count(*) AS inserts,
       bool_and((m #>> '{insert,new_tuple,values,0,int_value}')::int = rn
                AND m #>> '{insert,new_tuple,values,1,text_value}' = repeat('x', 20)) AS exact
  FROM (SELECT m, row_number() OVER (ORDER BY n) AS rn FROM msgs WHERE m ? 'insert') AS x;
SELECT m #>> '{logical_message,prefix}' AS prefix FROM msgs WHERE m ? 'logical_message';
-- streamed messages carry their xids even with include-xids off (they are
-- needed to apply the blocks); include-timestamp off drops the commit time
SELECT load('streaming', 'on', 'include-xids', 'off', 'include-timestamp', 'off') > 0 AS sent;
SELECT kind(m), bool_and(m -> kind(m) ? 'xid') AS has_xid,
       bool_or(m -> kind(m) ? 'commit_time') AS has_time
  FROM msgs WHERE kind(m) IN ('stream_start', 'insert', 'update', 'stream_commit')
 GROUP BY 1 ORDER BY 1;
SELECT count(*) > 0 AS consumed FROM w2p('strm', 'streaming', 'on');

-- 2. a large transaction that aborts.  By the time these functions decode
-- it, it has aborted, and PostgreSQL 15 discards a transaction it finds
-- aborted when it starts streaming it; so usually nothing is sent, and if
-- blocks were sent, a StreamAbort of the whole transaction (subxid = xid)
-- must close them.  (The isolation test stream_abort shows a transaction
-- streamed while still open.)
BEGIN;
SELECT pg_current_xact_id()::xid AS top \gset
INSERT INTO st SELECT i, repeat('x', 20) FROM generate_series(10001, 15000) AS i;
ROLLBACK;
SELECT w2p_flush();     -- an abort record is not flushed at once
-- without streaming nothing is sent
SELECT load();
SELECT load('streaming', 'on') >= 0 AS decoded;
SELECT count(*) = 0
       OR (blocks_ok()
           AND (SELECT m #>> '{stream_abort,xid}' = :'top'
                       AND m #>> '{stream_abort,subxid}' = :'top'
                  FROM msgs ORDER BY n DESC LIMIT 1)
           AND count(*) FILTER (WHERE kind(m) IN ('begin', 'commit', 'stream_commit')) = 0)
       AS consistent
  FROM msgs;
SELECT count(*) >= 0 AS consumed FROM w2p('strm', 'streaming', 'on');

-- 3. a large transaction with a rolled back subtransaction and a released one
BEGIN;
SELECT pg_current_xact_id()::xid AS top \gset
INSERT INTO st SELECT i, 'top' FROM generate_series(20001, 21000) AS i;
SAVEPOINT a;
INSERT INTO st SELECT i, 'rolled back' FROM generate_series(30001, 34000) AS i;
ROLLBACK TO SAVEPOINT a;
RELEASE SAVEPOINT a;    -- back in the top-level transaction
SAVEPOINT b;
INSERT INTO st SELECT i, 'released' FROM generate_series(40001, 40005) AS i;
RELEASE SAVEPOINT b;
INSERT INTO st SELECT i, 'top' FROM generate_series(21001, 21010) AS i;
COMMIT;
-- without streaming: only the surviving rows
SELECT load();
SELECT * FROM summary();
SELECT m #>> '{insert,new_tuple,values,1,text_value}' AS v, count(*)
  FROM msgs WHERE m ? 'insert' GROUP BY 1 ORDER BY 1;
-- with streaming: the rolled back rows were streamed under the
-- subtransaction's xid and are then discarded by a StreamAbort naming it
SELECT load('streaming', 'on') > 0 AS sent;
SELECT kind(m) FROM msgs
 WHERE kind(m) NOT IN ('insert', 'stream_start', 'stream_stop', 'relation')
 ORDER BY n;
SELECT blocks_ok();
SELECT m #>> '{stream_abort,xid}' = :'top' AS xid_is_top,
       m #>> '{stream_abort,subxid}' <> :'top' AS subxid_is_sub
  FROM msgs WHERE m ? 'stream_abort';
-- rows by value and by whose xid they carry
SELECT m #>> '{insert,new_tuple,values,1,text_value}' AS v,
       CASE WHEN m #>> '{insert,xid}' = :'top' THEN 'top'
            WHEN m #>> '{insert,xid}' = (SELECT m #>> '{stream_abort,subxid}'
                                           FROM msgs WHERE m ? 'stream_abort')
            THEN 'aborted subxid'
            ELSE 'other subxid' END AS xid,
       count(*) > 0 AS some,
       CASE WHEN m #>> '{insert,new_tuple,values,1,text_value}' = 'rolled back'
            THEN NULL ELSE count(*) END AS count,
       max(n) < (SELECT n FROM msgs WHERE m ? 'stream_abort') AS before_abort
  FROM msgs WHERE m ? 'insert' GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) > 0 AS consumed FROM w2p('strm', 'streaming', 'on');

-- 3b. DDL inside a streamed transaction: the relation is sent again (in the
-- block where it changed, and possibly in later blocks), and every change
-- matches the last Relation sent before it
BEGIN;
SELECT pg_current_xact_id()::xid AS top \gset
INSERT INTO st SELECT i, 'before' FROM generate_series(70001, 73000) AS i;
ALTER TABLE st ADD COLUMN w int DEFAULT 7;
INSERT INTO st SELECT i, 'after', i FROM generate_series(73001, 76000) AS i;
ALTER TABLE st DROP COLUMN v;
INSERT INTO st SELECT i, i FROM generate_series(76001, 79000) AS i;
COMMIT;
SELECT load('streaming', 'on') > 0 AS sent;
SELECT blocks_ok();
-- the distinct column lists, in order
SELECT cols, count(*) > 0 AS sent
  FROM (SELECT n, (SELECT string_agg(c ->> 'name', ', ' ORDER BY i)
                     FROM jsonb_array_elements(m #> '{relation,columns}')
                          WITH ORDINALITY AS a(c, i)) AS cols
          FROM msgs WHERE m ? 'relation') AS r
 GROUP BY cols ORDER BY min(n);
SELECT count(*) AS inserts,
       bool_and(jsonb_array_length(m #> '{insert,new_tuple,values}')
                = (SELECT jsonb_array_length(r.m #> '{relation,columns}')
                     FROM msgs AS r WHERE r.m ? 'relation' AND r.n < msgs.n
                    ORDER BY r.n DESC LIMIT 1)) AS match_relation,
       bool_and(CASE WHEN (m #>> '{insert,new_tuple,values,0,int_value}')::int <= 73000
                     THEN m #>> '{insert,new_tuple,values,1,text_value}' = 'before'
                     WHEN (m #>> '{insert,new_tuple,values,0,int_value}')::int <= 76000
                     THEN m #>> '{insert,new_tuple,values,1,text_value}' = 'after'
                          AND m #>> '{insert,new_tuple,values,2,int_value}'
                              = m #>> '{insert,new_tuple,values,0,int_value}'
                     ELSE m #>> '{insert,new_tuple,values,1,int_value}'
                          = m #>> '{insert,new_tuple,values,0,int_value}' END) AS values_ok
  FROM msgs WHERE m ? 'insert';
SELECT count(*) > 0 AS consumed FROM w2p('strm', 'streaming', 'on');
ALTER TABLE st DROP COLUMN w, ADD COLUMN v text;

-- 4. a large transaction touching only an excluded table sends nothing
CREATE TABLE st_excluded (id int);
INSERT INTO st_excluded SELECT i FROM generate_series(1, 5000) AS i;
SELECT count(*) FROM w2p('strm', 'streaming', 'on', 'exclude-tables', 'public.st_excluded');
DROP TABLE st_excluded;

-- 5. a small transaction is not streamed even with streaming on
INSERT INTO st VALUES (50001, 'small');
SELECT * FROM w2p('strm', 'streaming', 'on');

-- 6. two large transactions and a small one in one read: each streamed
-- transaction sends the relation before its first change (the consumer may
-- not keep what an unfinished streamed transaction sent)
INSERT INTO st SELECT i, repeat('x', 20) FROM generate_series(60001, 63000) AS i;
INSERT INTO st SELECT i, repeat('x', 20) FROM generate_series(63001, 66000) AS i;
INSERT INTO st VALUES (66001, 'small');
SELECT load('streaming', 'on') > 0 AS sent;
SELECT * FROM summary();
WITH s AS (SELECT n, m #>> '{stream_start,xid}' AS x FROM msgs WHERE m ? 'stream_start'),
     r AS (SELECT (SELECT x FROM s WHERE s.n < msgs.n ORDER BY s.n DESC LIMIT 1) AS x,
                  kind(m) AS k, n
             FROM msgs WHERE kind(m) IN ('relation', 'insert'))
SELECT count(*) AS streamed_transactions, bool_and(relation_first) AS relation_first
  FROM (SELECT x, min(n) FILTER (WHERE k = 'relation') < min(n) FILTER (WHERE k = 'insert')
                  AS relation_first
          FROM r WHERE x IS NOT NULL GROUP BY x) AS t;
SELECT count(*) > 0 AS consumed FROM w2p('strm', 'streaming', 'on');

SELECT pg_drop_replication_slot('strm');
DROP TABLE st;
DROP FUNCTION load(text[]), kind(jsonb), summary(), blocks_ok();
