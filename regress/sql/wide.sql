--
-- wide: rows with hundreds of columns and values of several megabytes.
--
SELECT 'init' FROM pg_create_logical_replication_slot('wide', 'wal2proto');

-- 400 columns c1..c400 of int, text and numeric in turn
SELECT format('CREATE TABLE w400 (id int PRIMARY KEY, %s)',
              string_agg(format('c%s %s', i,
                                (ARRAY['int', 'text', 'numeric'])[i % 3 + 1]),
                         ', ' ORDER BY i))
  FROM generate_series(1, 400) AS i \gexec
SELECT format('INSERT INTO w400 VALUES (1, %s)',
              string_agg(CASE i % 3 WHEN 0 THEN i::text
                                    WHEN 1 THEN quote_literal('v' || i)
                                    ELSE (i / 7.0)::text END,
                         ', ' ORDER BY i))
  FROM generate_series(1, 400) AS i \gexec
-- every fifth column to NULL
SELECT format('UPDATE w400 SET %s',
              string_agg(format('c%s = NULL', i), ', ' ORDER BY i))
  FROM generate_series(5, 400, 5) AS i \gexec

CREATE TEMP TABLE msgs (n bigint, m jsonb);
INSERT INTO msgs SELECT n, m FROM w2p('wide') WITH ORDINALITY AS a(m, n);
SELECT n, (SELECT k FROM jsonb_object_keys(m) AS k) AS kind FROM msgs ORDER BY n;
-- the relation lists 401 columns in order, with the right types
SELECT jsonb_array_length(m #> '{relation,columns}') AS ncolumns,
       m #> '{relation,columns,0}' AS first,
       m #> '{relation,columns,400}' AS last
  FROM msgs WHERE m ? 'relation';
SELECT count(*) AS columns_matching
  FROM msgs, jsonb_array_elements(m #> '{relation,columns}') WITH ORDINALITY AS c(col, k)
  JOIN pg_attribute a ON a.attrelid = 'w400'::regclass AND a.attnum = c.k
 WHERE m ? 'relation' AND col->>'name' = a.attname
   AND (col->>'type_oid')::oid = a.atttypid;
-- every value of the insert and of the update, against the table
SELECT kind, count(*) AS nvalues,
       count(*) FILTER (WHERE val ? 'marker') AS nulls,
       count(*) FILTER (WHERE coalesce(val->>'int_value', val->>'text_value',
                                       val->>'numeric_value') = expected) AS exact
  FROM (SELECT k AS kind, m -> k AS msg FROM msgs, jsonb_object_keys(m) AS k
         WHERE k IN ('insert', 'update')) AS x,
       jsonb_array_elements(msg #> '{new_tuple,values}') WITH ORDINALITY AS v(val, i),
       LATERAL (SELECT CASE WHEN i = 1 THEN '1'
                            WHEN kind = 'update' AND (i - 1) % 5 = 0 THEN NULL
                            WHEN (i - 1) % 3 = 0 THEN (i - 1)::text
                            WHEN (i - 1) % 3 = 1 THEN 'v' || (i - 1)
                            ELSE ((i - 1) / 7.0)::text END AS expected) AS e
 GROUP BY kind ORDER BY kind;
DROP TABLE msgs;

-- multi-megabyte values: 6 MB of text, 3 MB of bytea with NUL bytes, in one
-- row, and a second row in the same transaction
CREATE TABLE huge (id int PRIMARY KEY, t text, b bytea);
BEGIN;
INSERT INTO huge
    SELECT 1, string_agg(md5(i::text), ''),
           decode(string_agg(CASE WHEN i % 2 = 0 THEN '00' ELSE '' END || md5(i::text), ''), 'hex')
      FROM generate_series(1, 196608) AS i;
INSERT INTO huge VALUES (2, 'small', '\x00');
COMMIT;
SELECT id, length(t) AS tlen, md5(t) AS tmd5, length(b) AS blen, md5(b) AS bmd5
  FROM huge ORDER BY id;
CREATE TEMP TABLE msgs (n bigint, m jsonb);
INSERT INTO msgs SELECT n, m FROM w2p_raw_peek('wide') WITH ORDINALITY AS a(m, n);
SELECT n, (SELECT k FROM jsonb_object_keys(m) AS k) AS kind FROM msgs ORDER BY n;
SELECT (m #>> '{insert,new_tuple,values,0,int_value}')::int AS id,
       length(m #>> '{insert,new_tuple,values,1,text_value}') AS tlen,
       md5(m #>> '{insert,new_tuple,values,1,text_value}') = md5(t) AS t_exact,
       decode(substr(m #>> '{insert,new_tuple,values,2,bytea_value}', 3), 'hex') = b AS b_exact
  FROM msgs JOIN huge ON huge.id = (m #>> '{insert,new_tuple,values,0,int_value}')::int
 ORDER BY 1;
-- the whole transaction still decodes to the same messages whatever the
-- batch size: a message larger than batch-bytes is written alone
SELECT count(*) > 1 AS several_rows,
       max(octet_length(data)) > 9000000 AS has_big_row,
       bool_and(octet_length(data) <= 1000
                OR jsonb_array_length(wal2proto.to_json(data) -> 'messages') = 1) AS within_limit,
       sum(jsonb_array_length(wal2proto.to_json(data) -> 'messages')) AS messages
  FROM pg_logical_slot_peek_binary_changes('wide', NULL, NULL, 'batch-bytes', '1000');
SELECT count(*) AS messages FROM w2p('wide', 'batch-bytes', '1000');

SELECT pg_drop_replication_slot('wide');
DROP TABLE w400, huge;
