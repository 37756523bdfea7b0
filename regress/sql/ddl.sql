--
-- ddl: the Relation message is sent again after the table changes, and the
-- values that follow match the new columns.
--
SELECT 'init' FROM pg_create_logical_replication_slot('ddl', 'wal2proto');
CREATE TABLE dt (id int PRIMARY KEY, a text, b int);
CREATE TYPE dmood AS ENUM ('sad', 'happy');

-- all in one decoding session, so every re-send is due to the change
INSERT INTO dt VALUES (1, 'a1', 10);
INSERT INTO dt VALUES (2, 'a2', 20);                  -- no re-send
ALTER TABLE dt ADD COLUMN c numeric(6,2) DEFAULT 1.5;
INSERT INTO dt VALUES (3, 'a3', 30, 3.25);
UPDATE dt SET b = 11 WHERE id = 1;                    -- c from the default
ALTER TABLE dt DROP COLUMN a;
INSERT INTO dt VALUES (4, 40, 4);
ALTER TABLE dt ALTER COLUMN b TYPE bigint;            -- rewrites the table
INSERT INTO dt VALUES (5, 5000000000, 5);
ALTER TABLE dt RENAME COLUMN b TO big;
INSERT INTO dt VALUES (6, 60, 6);
ALTER TABLE dt RENAME TO dt_renamed;
INSERT INTO dt_renamed VALUES (7, 70, 7);
ALTER TABLE dt_renamed ADD COLUMN m dmood NOT NULL DEFAULT 'happy',
    ALTER COLUMN c SET NOT NULL;
INSERT INTO dt_renamed VALUES (8, 80, 8, 'sad');
ALTER TABLE dt_renamed ALTER COLUMN c TYPE text;
UPDATE dt_renamed SET big = 81 WHERE id = 8;
-- a type the table uses changes: the relation is sent again
ALTER TYPE dmood RENAME TO dmood_renamed;
UPDATE dt_renamed SET big = 82 WHERE id = 8;
SELECT * FROM w2p('ddl');

-- DDL and DML in one transaction
BEGIN;
INSERT INTO dt_renamed VALUES (9, 90, 'nine');
ALTER TABLE dt_renamed ADD COLUMN d date;
INSERT INTO dt_renamed VALUES (10, 100, 'ten', 'happy', '2000-01-01');
ALTER TABLE dt_renamed DROP COLUMN m;
INSERT INTO dt_renamed VALUES (11, 110, 'eleven', '2000-01-02');
COMMIT;
SELECT * FROM w2p('ddl');

-- a row written before ADD COLUMN ... DEFAULT and deleted after it has the
-- default in its old tuple (REPLICA IDENTITY FULL logs the whole row)
CREATE TABLE dfull (id int);
ALTER TABLE dfull REPLICA IDENTITY FULL;
INSERT INTO dfull VALUES (1);
ALTER TABLE dfull ADD COLUMN x text DEFAULT 'filled';
DELETE FROM dfull;
SELECT * FROM w2p('ddl');

-- generated columns are not part of the relation nor of the rows
CREATE TABLE dgen (id int PRIMARY KEY, a int,
                   g int GENERATED ALWAYS AS (a * 2) STORED, b text);
INSERT INTO dgen (id, a, b) VALUES (1, 5, 'x');
ALTER TABLE dgen ADD COLUMN g2 text GENERATED ALWAYS AS (b || '!') STORED;
UPDATE dgen SET a = 6;
SELECT * FROM w2p('ddl');
DROP TABLE dgen;

SELECT pg_drop_replication_slot('ddl');
DROP TABLE dt_renamed, dfull;
DROP TYPE dmood_renamed;
