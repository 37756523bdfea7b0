--
-- truncate: one Truncate message per TRUNCATE command, listing every
-- relation it truncated, with the CASCADE and RESTART IDENTITY flags.
--
SELECT 'init' FROM pg_create_logical_replication_slot('trunc', 'wal2proto');

CREATE TABLE tr_a (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
CREATE TABLE tr_b (id int PRIMARY KEY);
CREATE TABLE tr_c (id int PRIMARY KEY, b_id int REFERENCES tr_b);
CREATE TABLE tr_d (id int);

INSERT INTO tr_a (v) VALUES ('x');
INSERT INTO tr_b VALUES (1);
INSERT INTO tr_c VALUES (1, 1);
SELECT * FROM w2p('trunc');

TRUNCATE tr_a, tr_d;
TRUNCATE tr_b CASCADE;          -- truncates tr_c too
TRUNCATE tr_a RESTART IDENTITY;
TRUNCATE tr_d RESTART IDENTITY CASCADE;
BEGIN;
INSERT INTO tr_a (v) VALUES ('y');
TRUNCATE tr_a;
INSERT INTO tr_a (v) VALUES ('z');
COMMIT;
SELECT * FROM w2p('trunc');

-- the relations of a truncate are sent before it, in the command's order
TRUNCATE tr_c, tr_b, tr_a;
SELECT * FROM w2p('trunc');

-- a truncate of excluded tables only is not sent; of some, lists the others
TRUNCATE tr_c, tr_b, tr_a;
TRUNCATE tr_d;
SELECT * FROM w2p('trunc', 'exclude-tables', 'public.tr_b,public.tr_d');

-- one command truncating 60 tables lists them all, in order
SELECT format('CREATE TABLE tr_many_%s (id int)', i) FROM generate_series(1, 60) AS i \gexec
SELECT format('TRUNCATE %s', string_agg(format('tr_many_%s', i), ', ' ORDER BY i))
  FROM generate_series(1, 60) AS i \gexec
SELECT count(*) FILTER (WHERE m ? 'relation') AS relations,
       jsonb_array_length(max(m #>> '{truncate,relation_ids}')::jsonb) AS truncated,
       max(m #>> '{truncate,relation_ids}')::jsonb
           = (SELECT jsonb_agg(format('tr_many_%s', i) ORDER BY i) FROM generate_series(1, 60) AS i)
           AS in_order
  FROM w2p('trunc') AS m;
SELECT format('DROP TABLE tr_many_%s', i) FROM generate_series(1, 60) AS i \gexec

SELECT pg_drop_replication_slot('trunc');
DROP TABLE tr_a, tr_b, tr_c, tr_d;
