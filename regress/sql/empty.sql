--
-- empty: a transaction with nothing to send sends no Begin and no Commit,
-- yet the slot advances past it.
--
SELECT 'init' FROM pg_create_logical_replication_slot('empty', 'wal2proto');
CREATE TABLE kept (id int PRIMARY KEY);
CREATE TABLE dropped (id int PRIMARY KEY);

-- touches only an excluded table
INSERT INTO dropped VALUES (1);
SELECT confirmed_flush_lsn AS before, pg_current_wal_flush_lsn() AS flushed
  FROM pg_replication_slots WHERE slot_name = 'empty' \gset
SELECT * FROM w2p('empty', 'exclude-tables', 'public.dropped');
SELECT confirmed_flush_lsn > :'before' AS advanced,
       confirmed_flush_lsn >= :'flushed' AS past_the_transaction
  FROM pg_replication_slots WHERE slot_name = 'empty';
-- consumed: a second read has nothing either
SELECT * FROM w2p('empty');

-- only DDL, only temporary tables, a rolled back transaction, and a filtered
-- action: nothing
CREATE TABLE t_ddl (id int);
CREATE TEMP TABLE tmp (id int);
INSERT INTO tmp VALUES (1);
BEGIN;
INSERT INTO kept VALUES (1);
ROLLBACK;
DELETE FROM dropped;
SELECT confirmed_flush_lsn AS before, pg_current_wal_flush_lsn() AS flushed
  FROM pg_replication_slots WHERE slot_name = 'empty' \gset
SELECT * FROM w2p('empty', 'actions', 'insert');
SELECT confirmed_flush_lsn > :'before' AS advanced,
       confirmed_flush_lsn >= :'flushed' AS past_the_transaction
  FROM pg_replication_slots WHERE slot_name = 'empty';

-- a transaction touching both: only the kept table, one Begin/Commit
BEGIN;
INSERT INTO dropped VALUES (2);
INSERT INTO kept VALUES (2);
INSERT INTO dropped VALUES (3);
COMMIT;
SELECT * FROM w2p('empty', 'exclude-tables', 'public.dropped');

-- many empty transactions between two real ones
INSERT INTO kept VALUES (3);
INSERT INTO dropped SELECT i FROM generate_series(10, 30) AS i;
DO $$ BEGIN FOR i IN 1 .. 20 LOOP
    INSERT INTO dropped VALUES (100 + i);
    COMMIT;
END LOOP; END $$;
INSERT INTO kept VALUES (4);
SELECT * FROM w2p('empty', 'exclude-tables', 'public.dropped');

SELECT pg_drop_replication_slot('empty');
DROP TABLE kept, dropped, t_ddl;
