--
-- filter: include-tables / exclude-tables patterns (quoted identifiers,
-- wildcards), partitions with and without publish-via-root, and actions.
--
SELECT 'init' FROM pg_create_logical_replication_slot('filt', 'wal2proto');

CREATE SCHEMA "My Schema";
CREATE SCHEMA other;
CREATE TABLE public.orders (id int PRIMARY KEY);
CREATE TABLE public.order_lines (id int PRIMARY KEY);
CREATE TABLE public.secret (id int PRIMARY KEY);
CREATE TABLE public."MixedCase" (id int PRIMARY KEY);
CREATE TABLE "My Schema"."Odd,Name" (id int PRIMARY KEY);
CREATE TABLE "My Schema"."quote""d" (id int PRIMARY KEY);
CREATE TABLE "My Schema".plain (id int PRIMARY KEY);
CREATE TABLE other.orders (id int PRIMARY KEY);

-- one transaction touching every table, one row each, in this order
BEGIN;
INSERT INTO public.orders VALUES (1);
INSERT INTO public.order_lines VALUES (2);
INSERT INTO public.secret VALUES (3);
INSERT INTO public."MixedCase" VALUES (4);
INSERT INTO "My Schema"."Odd,Name" VALUES (5);
INSERT INTO "My Schema"."quote""d" VALUES (6);
INSERT INTO "My Schema".plain VALUES (7);
INSERT INTO other.orders VALUES (8);
COMMIT;

-- which rows each filter lets through (the id says the table)
CREATE FUNCTION ids(VARIADIC options text[] DEFAULT '{}') RETURNS int[]
LANGUAGE sql AS $$
    SELECT coalesce(array_agg((m #>> '{insert,new_tuple,values,0,int_value}')::int
                              ORDER BY n), '{}')
      FROM w2p_messages('filt', true, true, options) WITH ORDINALITY AS a(m, n)
     WHERE m ? 'insert'
$$;

SELECT ids();
SELECT ids('include-tables', 'public.orders');
SELECT ids('include-tables', 'public.*');
SELECT ids('include-tables', '*.orders');
SELECT ids('include-tables', 'public.order*');
SELECT ids('include-tables', '*.*');
SELECT ids('include-tables', 'public."MixedCase"');
SELECT ids('include-tables', 'public.mixedcase');
SELECT ids('include-tables', '"My Schema"."Odd,Name"');
SELECT ids('include-tables', '"My Schema"."Odd,Name",public.secret');
SELECT ids('include-tables', '"My Schema"."quote""d"');
SELECT ids('include-tables', '"My Schema".*');
SELECT ids('include-tables', ' public.orders , other.orders ');
SELECT ids('include-tables', 'public.nonexistent');
SELECT ids('exclude-tables', 'public.secret');
SELECT ids('exclude-tables', 'public.*,"My Schema".*');
SELECT ids('exclude-tables', '"My Schema"."Odd,Name"');
SELECT ids('include-tables', 'public.*', 'exclude-tables', 'public.secret,public."MixedCase"');
-- the filtered transaction still has its Begin, Relation and Commit
SELECT * FROM w2p_peek('filt', 'include-tables', '"My Schema"."Odd,Name"');
SELECT count(*) FROM w2p('filt');

-- actions: which kinds of change are sent
INSERT INTO public.orders VALUES (10);
UPDATE public.orders SET id = 11 WHERE id = 10;
DELETE FROM public.orders WHERE id = 11;
TRUNCATE public.order_lines;
SELECT * FROM w2p_peek('filt', 'actions', 'insert');
SELECT * FROM w2p_peek('filt', 'actions', 'update,delete');
SELECT * FROM w2p_peek('filt', 'actions', ' truncate ');
SELECT count(*) FROM w2p('filt', 'actions', 'insert,update,delete,truncate');

-- partitions: by default changes are reported for the leaf partition;
-- with publish-via-root for the root, in the root's column order
CREATE TABLE meas (id int, city text, v numeric, PRIMARY KEY (id, city))
    PARTITION BY LIST (city);
CREATE TABLE meas_paris PARTITION OF meas FOR VALUES IN ('Paris');
-- a partition whose columns are in another order, with a dropped column
CREATE TABLE meas_rome (junk int, v numeric, city text NOT NULL, id int NOT NULL);
ALTER TABLE meas_rome DROP COLUMN junk;
ALTER TABLE meas ATTACH PARTITION meas_rome FOR VALUES IN ('Rome');
-- a sub-partitioned branch
CREATE TABLE meas_oslo PARTITION OF meas FOR VALUES IN ('Oslo') PARTITION BY RANGE (id);
CREATE TABLE meas_oslo_low PARTITION OF meas_oslo FOR VALUES FROM (0) TO (100);

INSERT INTO meas VALUES (1, 'Paris', 1.5), (2, 'Rome', 2.5), (3, 'Oslo', 3.5);
UPDATE meas SET v = v + 1 WHERE id = 2;
UPDATE meas SET city = 'Paris' WHERE id = 3;   -- moves the row: delete + insert
DELETE FROM meas WHERE id = 1;
TRUNCATE meas;

SELECT * FROM w2p_peek('filt');
SELECT * FROM w2p_peek('filt', 'publish-via-root', 'true');
-- the filters see the name the change is reported as
SELECT * FROM w2p_peek('filt', 'include-tables', 'public.meas_rome');
SELECT * FROM w2p_peek('filt', 'publish-via-root', '1', 'include-tables', 'public.meas');
SELECT * FROM w2p_peek('filt', 'publish-via-root', 'on', 'include-tables', 'public.meas_rome');
SELECT count(*) FROM w2p('filt');

-- a leaf with REPLICA IDENTITY FULL under a root without a key: the old
-- rows PostgreSQL logged are sent, mapped to the root's columns
CREATE TABLE pr (id int, city text, v numeric) PARTITION BY LIST (city);
CREATE TABLE pr_rome (junk int, v numeric, city text, id int);
ALTER TABLE pr_rome DROP COLUMN junk;
ALTER TABLE pr ATTACH PARTITION pr_rome FOR VALUES IN ('Rome');
ALTER TABLE pr_rome REPLICA IDENTITY FULL;
INSERT INTO pr VALUES (1, 'Rome', 1.5);
UPDATE pr SET v = 2.5;
DELETE FROM pr;
SELECT * FROM w2p_peek('filt', 'publish-via-root', 'on') AS m WHERE NOT m ? 'relation';
SELECT * FROM w2p('filt') AS m WHERE NOT m ? 'relation';
DROP TABLE pr;

-- DDL on the root under publish-via-root: the root's relation is sent again
-- and the leaf's rows follow its new columns
CREATE TABLE pq (id int PRIMARY KEY, v text) PARTITION BY RANGE (id);
CREATE TABLE pq1 PARTITION OF pq FOR VALUES FROM (0) TO (100);
INSERT INTO pq VALUES (1, 'a');
ALTER TABLE pq ADD COLUMN z int DEFAULT 9;
INSERT INTO pq VALUES (2, 'b', 3);
ALTER TABLE pq DROP COLUMN v;
INSERT INTO pq VALUES (3, 4);
UPDATE pq SET z = 5 WHERE id = 1;
SELECT coalesce(to_jsonb((SELECT string_agg(c ->> 'name', ', ')
                            FROM jsonb_array_elements(m #> '{relation,columns}') AS c)),
                m) AS message
  FROM w2p('filt', 'publish-via-root', 'on') AS m
 WHERE NOT m ? 'begin' AND NOT m ? 'commit';
DROP TABLE pq;

-- a detached partition is its own table again, also under publish-via-root
ALTER TABLE meas DETACH PARTITION meas_rome;
INSERT INTO meas_rome (id, city, v) VALUES (7, 'Rome', 7.5);
INSERT INTO meas VALUES (8, 'Paris', 8.5);
SELECT * FROM w2p('filt', 'publish-via-root', 'on');

-- identifiers beyond ASCII, in names and in patterns
CREATE TABLE "表😀" ("列" int);
CREATE TABLE "Ünïcode" (id int);
INSERT INTO "表😀" VALUES (1);
INSERT INTO "Ünïcode" VALUES (2);
SELECT m #> '{relation,name}' AS name, m #> '{relation,columns,0,name}' AS first_column
  FROM w2p_peek('filt', 'include-tables', 'public."表😀"') AS m WHERE m ? 'relation';
SELECT m #> '{relation,name}' AS name
  FROM w2p_peek('filt', 'include-tables', 'public.Ü*') AS m WHERE m ? 'relation';
SELECT m #> '{relation,name}' AS name
  FROM w2p('filt', 'exclude-tables', 'public."表😀"') AS m WHERE m ? 'relation';
DROP TABLE "表😀", "Ünïcode", meas_rome;

SELECT pg_drop_replication_slot('filt');
DROP FUNCTION ids(text[]);
DROP TABLE public.orders, public.order_lines, public.secret, public."MixedCase",
    other.orders, meas;
DROP SCHEMA "My Schema" CASCADE;
DROP SCHEMA other;
