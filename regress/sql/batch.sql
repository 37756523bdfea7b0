--
-- batch: batch-bytes bounds the bytes of one write (one row of
-- pg_logical_slot_get_binary_changes).  0 writes every message alone; the
-- default writes a small transaction as one row; small values split a
-- transaction over several rows whose concatenation is the same batch.
--
SELECT 'init' FROM pg_create_logical_replication_slot('batch', 'wal2proto');
CREATE TABLE bt (id int PRIMARY KEY, v text);
BEGIN;
INSERT INTO bt SELECT i, 'value ' || i FROM generate_series(1, 100) AS i;
UPDATE bt SET v = 'changed' WHERE id <= 10;
DELETE FROM bt WHERE id > 90;
COMMIT;
INSERT INTO bt VALUES (1000, 'second');

CREATE FUNCTION rows(VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (ord bigint, data bytea, nmessages int)
LANGUAGE sql AS $$
    SELECT ord, data, jsonb_array_length(wal2proto.to_json(data) -> 'messages')
      FROM pg_logical_slot_peek_binary_changes('batch', NULL, NULL,
                                               VARIADIC options)
           WITH ORDINALITY AS c(lsn, xid, data, ord)
$$;
-- the messages of the concatenation of every row, rendered as one batch
CREATE FUNCTION concatenated(VARIADIC options text[] DEFAULT '{}')
RETURNS jsonb LANGUAGE sql AS $$
    SELECT wal2proto.to_json(string_agg(data, '' ORDER BY ord))
      FROM rows(VARIADIC options)
$$;

-- default: one row per transaction
SELECT ord, nmessages, octet_length(data) < 65536 AS small FROM rows() ORDER BY ord;
-- 0: one message per row
SELECT count(*) AS rows, sum(nmessages) AS messages, max(nmessages) AS max_per_row
  FROM rows('batch-bytes', '0');
-- small sizes: a transaction is split over several rows, each within the
-- limit unless one message alone is bigger; nothing is lost or reordered
SELECT b AS batch_bytes, count(*) > 2 AS split, sum(nmessages) AS messages,
       bool_and(octet_length(data) <= b OR nmessages = 1) AS within_limit,
       concatenated('batch-bytes', b::text) = concatenated() AS same_messages
  FROM generate_series(1, 301, 50) AS b,
       LATERAL rows('batch-bytes', b::text) AS r
 GROUP BY b ORDER BY b;
-- 1 byte is as good as 0: one message per row
SELECT count(*) AS rows, sum(nmessages) AS messages
  FROM rows('batch-bytes', '1');
SELECT count(*) > 2 AS split, sum(nmessages) AS messages,
       bool_and(octet_length(data) <= 1000) AS within_limit,
       concatenated('batch-bytes', '1000') = concatenated() AS same_messages,
       concatenated('batch-bytes', '0') = concatenated() AS same_as_zero
  FROM rows('batch-bytes', '1000');
-- a limit above the transaction's size changes nothing
SELECT count(*) AS rows FROM rows('batch-bytes', '100000000');
-- a row never mixes two transactions: Begin only first in its row, Commit
-- only last
SELECT count(*) FILTER (WHERE kinds[1] = 'begin') AS rows_with_begin,
       count(*) FILTER (WHERE kinds[cardinality(kinds)] = 'commit') AS rows_with_commit,
       bool_and(array_position(kinds, 'begin') IS NULL
                OR array_position(kinds, 'begin') = 1) AS begin_first,
       bool_and(array_position(kinds, 'commit') IS NULL
                OR array_position(kinds, 'commit') = cardinality(kinds)) AS commit_last
  FROM (SELECT ord, (SELECT array_agg(k ORDER BY n)
                       FROM jsonb_array_elements(wal2proto.to_json(data) -> 'messages')
                            WITH ORDINALITY AS a(m, n),
                            jsonb_object_keys(m) AS k) AS kinds
          FROM rows('batch-bytes', '2000')) AS x;
-- the whole thing, as w2p shows it (one message per line)
SELECT * FROM w2p('batch', 'batch-bytes', '0') AS m
 WHERE NOT m ? 'insert' AND NOT m ? 'update' AND NOT m ? 'delete';

SELECT pg_drop_replication_slot('batch');
DROP TABLE bt;
DROP FUNCTION concatenated(text[]), rows(text[]);
