--
-- identity: INSERT/UPDATE/DELETE under every replica identity, and
-- key-changing updates.  Old tuples carry the identity columns; the other
-- columns are MARKER_NOT_SENT (FULL sends them all).
--
SELECT 'init' FROM pg_create_logical_replication_slot('identity', 'wal2proto');

-- DEFAULT with a primary key (two columns, so key changes are visible)
CREATE TABLE id_pk (a int, b text, c int, PRIMARY KEY (a, b));
-- USING INDEX on a unique index over NOT NULL columns
CREATE TABLE id_index (a int, b int NOT NULL, c text NOT NULL, d text);
CREATE UNIQUE INDEX id_index_bc ON id_index (c, b);
ALTER TABLE id_index REPLICA IDENTITY USING INDEX id_index_bc;
-- FULL
CREATE TABLE id_full (a int PRIMARY KEY, b text, c int);
ALTER TABLE id_full REPLICA IDENTITY FULL;
-- NOTHING (with a primary key, which does not count then)
CREATE TABLE id_nothing (a int PRIMARY KEY, b text);
ALTER TABLE id_nothing REPLICA IDENTITY NOTHING;
-- DEFAULT without any key
CREATE TABLE id_nokey (a int, b text);

-- nothing so far: DDL alone sends nothing
SELECT * FROM w2p('identity');

BEGIN;
INSERT INTO id_pk VALUES (1, 'one', 10), (2, 'two', NULL);
UPDATE id_pk SET c = 11 WHERE a = 1;          -- key unchanged: no old tuple
UPDATE id_pk SET b = 'uno' WHERE a = 1;        -- key changed: old key sent
UPDATE id_pk SET a = 3, c = 30 WHERE a = 2;    -- key changed
DELETE FROM id_pk WHERE a = 1;
COMMIT;
SELECT * FROM w2p('identity');

INSERT INTO id_index VALUES (1, 2, 'x', 'y');
UPDATE id_index SET d = 'z';                   -- identity unchanged
UPDATE id_index SET c = 'xx', a = 5;           -- identity changed
DELETE FROM id_index;
SELECT * FROM w2p('identity');

INSERT INTO id_full VALUES (1, 'a', NULL);
UPDATE id_full SET c = 2;
UPDATE id_full SET a = 7, b = NULL;
DELETE FROM id_full;
SELECT * FROM w2p('identity');

INSERT INTO id_nothing VALUES (1, 'a');
UPDATE id_nothing SET b = 'b';
UPDATE id_nothing SET a = 2;
DELETE FROM id_nothing;
SELECT * FROM w2p('identity');

INSERT INTO id_nokey VALUES (1, 'a');
-- without an identity, UPDATE and DELETE need REPLICA IDENTITY only when a
-- publication exists, so they work here and log no old values
UPDATE id_nokey SET b = 'b';
DELETE FROM id_nokey;
SELECT * FROM w2p('identity');

-- changing the identity re-sends the relation within the same session
INSERT INTO id_nokey VALUES (2, 'c');
ALTER TABLE id_nokey REPLICA IDENTITY FULL;
DELETE FROM id_nokey;
SELECT * FROM w2p('identity');

-- other ways rows are written: COPY and multi-row INSERT ... SELECT (heap
-- multi-insert, with out-of-line values), INSERT ... ON CONFLICT (an update
-- of the existing row, a plain insert, nothing)
CREATE TABLE id_paths (id int PRIMARY KEY, v text, big text);
ALTER TABLE id_paths ALTER COLUMN big SET STORAGE EXTERNAL;
COPY id_paths (id, v) FROM STDIN;
1	one
2	\N
3	three
\.
INSERT INTO id_paths SELECT i, 'x', repeat('y', 5000) FROM generate_series(10, 12) AS i;
INSERT INTO id_paths VALUES (1, 'dup') ON CONFLICT (id) DO UPDATE SET v = excluded.v || ' updated';
INSERT INTO id_paths VALUES (4, 'new') ON CONFLICT (id) DO UPDATE SET v = 'no';
INSERT INTO id_paths VALUES (2, 'ignored') ON CONFLICT DO NOTHING;
SELECT md5(repeat('y', 5000)) AS big;
SELECT * FROM w2p('identity');
DROP TABLE id_paths;

SELECT pg_drop_replication_slot('identity');
DROP TABLE id_pk, id_index, id_full, id_nothing, id_nokey;
