--
-- options: every accepted spelling, and a clean ERROR for every bad one.
--
-- (default verbosity: the DETAIL and HINT of each error are part of the test)
SELECT 'init' FROM pg_create_logical_replication_slot('opt', 'wal2proto');
CREATE TABLE ot (id int PRIMARY KEY);
INSERT INTO ot VALUES (1);

-- accepted values
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL,
    'proto-version', '1', 'origin', 'any', 'include-tables', 'public.*',
    'exclude-tables', 'public.x', 'publish-via-root', 'false',
    'actions', 'insert,update', 'message-prefixes', 'a,b',
    'include-xids', 'true', 'include-timestamp', 'false',
    'include-origin', '1', 'batch-bytes', '0', 'streaming', 'off',
    'two-phase', 'off');
SELECT b, count(*) FROM unnest(ARRAY['on', 'off', 'true', 'false', '1', '0',
                                     'ON', 'True']) AS b,
       LATERAL pg_logical_slot_peek_binary_changes('opt', NULL, NULL,
                                                   'include-xids', b)
 GROUP BY b ORDER BY b;
-- include-xids / include-timestamp decide whether Begin and Commit carry
-- the xid and the commit time
SELECT m -> 'begin' ? 'xid' AS begin_xid, m -> 'begin' ? 'commit_time' AS begin_time
  FROM w2p_raw_peek('opt', 'include-xids', 'off', 'include-timestamp', 'on') AS m
 WHERE m ? 'begin';
SELECT m -> 'commit' ? 'xid' AS commit_xid, m -> 'commit' ? 'commit_time' AS commit_time
  FROM w2p_raw_peek('opt', 'include-xids', 'on', 'include-timestamp', 'off') AS m
 WHERE m ? 'commit';
SELECT m -> 'begin' ? 'xid' AS xid, m -> 'begin' ? 'commit_time' AS commit_time,
       m -> 'begin' ? 'final_lsn' AS final_lsn
  FROM w2p_raw_peek('opt') AS m WHERE m ? 'begin';
-- the begin/commit fields are exact
SELECT (b.m #>> '{begin,xid}')::xid = (c.m #>> '{commit,xid}')::xid AS same_xid,
       b.m #>> '{begin,final_lsn}' = c.m #>> '{commit,commit_lsn}' AS final_is_commit_lsn,
       b.m #>> '{begin,commit_time}' = c.m #>> '{commit,commit_time}' AS same_time,
       (c.m #>> '{commit,end_lsn}')::pg_lsn > (c.m #>> '{commit,commit_lsn}')::pg_lsn AS end_after_commit,
       pg_xact_commit_timestamp((b.m #>> '{begin,xid}')::xid)
           = to_timestamp(0) + (b.m #>> '{begin,commit_time}')::bigint * interval '1 microsecond'
           AS time_is_commit_timestamp
  FROM w2p_raw_peek('opt') WITH ORDINALITY AS b(m, n)
  JOIN w2p_raw_peek('opt') WITH ORDINALITY AS c(m, n) ON c.n = b.n + 3
 WHERE b.m ? 'begin';

-- unknown option
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'nonsense', '1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include_xids', '1');
-- option without a value
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include-xids', NULL);
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'batch-bytes', NULL);
-- duplicate
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL,
    'include-xids', '1', 'include-xids', '1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL,
    'include-tables', 'public.a', 'include-tables', 'public.b');
-- bad booleans
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include-xids', 'maybe');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'streaming', '');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'publish-via-root', '2');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'two-phase', 'onn');
-- bad proto-version
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'proto-version', '2');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'proto-version', '0');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'proto-version', 'one');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'proto-version', '1x');
-- bad origin
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'origin', 'some');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'origin', '');
-- bad actions
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'actions', 'insert,upsert');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'actions', 'insert,,delete');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'actions', '');
-- malformed patterns
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include-tables', '"public.ot');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include-tables', 'public."ot');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'exclude-tables', '');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include-tables', 'public.ot,');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include-tables', 'public.');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include-tables', '.ot');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'include-tables', 'a.b.c');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'exclude-tables', '""."ot"');
-- bad message-prefixes
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'message-prefixes', '');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'message-prefixes', '"open');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'message-prefixes', 'a,,b');
-- bad batch-bytes
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'batch-bytes', '-1');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'batch-bytes', 'lots');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'batch-bytes', '99999999999999999999');
SELECT count(*) FROM pg_logical_slot_peek_binary_changes('opt', NULL, NULL, 'batch-bytes', '');

-- after all these errors the slot is intact and still has its transaction
SELECT count(*) FROM w2p('opt');
SELECT pg_drop_replication_slot('opt');
DROP TABLE ot;
