--
-- toast: unchanged out-of-line values in updates are MARKER_UNCHANGED_TOAST;
-- values the transaction wrote are sent in full.
--
SELECT 'init' FROM pg_create_logical_replication_slot('toast', 'wal2proto');

-- 64 kB of hex digits of md5 chains: pglz cannot shrink it below the
-- TOAST threshold, so it is stored out of line
CREATE FUNCTION big(seed int) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(md5(seed::text || ':' || i::text), '')
      FROM generate_series(1, 2048) AS i
$$;

CREATE TABLE tt (id int PRIMARY KEY, small int, big text, bb bytea);
ALTER TABLE tt ALTER COLUMN bb SET STORAGE EXTERNAL;
CREATE TABLE tt_full (id int PRIMARY KEY, small int, big text);
ALTER TABLE tt_full REPLICA IDENTITY FULL;

INSERT INTO tt VALUES (1, 1, big(1), convert_to(big(2), 'UTF8'));
INSERT INTO tt_full VALUES (1, 1, big(3));
SELECT relname, pg_relation_size(reltoastrelid) >= 65536 AS toasted
  FROM pg_class WHERE relname IN ('tt', 'tt_full') ORDER BY relname;
-- what w2p shows for the values: md5 of the text, md5 of the bytea's "\x" hex
SELECT md5(big(1)) AS big1, md5('\x' || encode(bb, 'hex')) AS bb, md5(big(3)) AS big3
  FROM tt;
SELECT * FROM w2p('toast');

-- the update changes only small: big and bb are unchanged TOAST
UPDATE tt SET small = 2;
-- assigning the same value keeps the same TOAST pointer: still unchanged
UPDATE tt SET big = big, small = 3;
-- a new value is sent in full
UPDATE tt SET big = big(4), small = 4;
SELECT md5(big(4)) AS big4;
-- changing the key sends the old key; big stays unchanged TOAST
UPDATE tt SET id = 2;
DELETE FROM tt;
SELECT * FROM w2p('toast');

-- under REPLICA IDENTITY FULL the old row is complete (PostgreSQL logs the
-- old value detoasted), the new row still marks the unchanged value
UPDATE tt_full SET small = 2;
DELETE FROM tt_full;
SELECT * FROM w2p('toast');

-- an inline value (short) is never a marker
INSERT INTO tt VALUES (5, 1, 'short', '\x00');
UPDATE tt SET small = 6;
SELECT * FROM w2p('toast');

-- TOAST values in a streamed transaction: PostgreSQL reassembles them before
-- the change is streamed; every value arrives whole
CREATE TABLE tst (id int PRIMARY KEY, t text);
ALTER TABLE tst ALTER COLUMN t SET STORAGE EXTERNAL;
BEGIN;
INSERT INTO tst SELECT i, repeat(md5(i::text), 2000) FROM generate_series(1, 30) AS i;
UPDATE tst SET t = t || 'x' WHERE id <= 5;
COMMIT;
SELECT kind, count(*),
       bool_and(md5(v ->> 'text_value')
                = md5(repeat(md5(id::text), 2000) || CASE WHEN kind = 'update' THEN 'x' ELSE '' END))
       AS exact
  FROM (SELECT k AS kind, (m -> k #>> '{new_tuple,values,0,int_value}')::int AS id,
               m -> k #> '{new_tuple,values,1}' AS v
          FROM w2p_raw_peek('toast', 'streaming', 'on') AS m, jsonb_object_keys(m) AS k
         WHERE k IN ('insert', 'update')) AS x
 GROUP BY kind ORDER BY kind;
SELECT count(*) > 0 AS streamed FROM w2p('toast', 'streaming', 'on') AS m
 WHERE m ? 'stream_commit';
DROP TABLE tst;

SELECT pg_drop_replication_slot('toast');
DROP TABLE tt, tt_full;
DROP FUNCTION big(int);
