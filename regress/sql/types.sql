--
-- types: every value family, checked for exactness against what PostgreSQL
-- stored, and shown to be independent of the session's output settings.
--
\set VERBOSITY terse
SELECT 'init' FROM pg_create_logical_replication_slot('types', 'wal2proto');

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN shorttext AS varchar(10);
CREATE TYPE pair AS (x int, y text, f float8, b bytea, d date, i interval);

CREATE TABLE t_int (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid);
CREATE TABLE t_float (id int PRIMARY KEY, f4 float4, f8 float8);
CREATE TABLE t_numeric (id int PRIMARY KEY, n numeric, n4 numeric(14,4));
CREATE TABLE t_text (id int PRIMARY KEY, b bool, t text, vc varchar(5),
                     bp char(5), nm name, ch "char");
CREATE TABLE t_bytea (id int PRIMARY KEY, b bytea);
CREATE TABLE t_date (id int PRIMARY KEY, d date, t time, tz timetz);
CREATE TABLE t_ts (id int PRIMARY KEY, ts timestamp, tstz timestamptz);
CREATE TABLE t_interval (id int PRIMARY KEY, i interval);
CREATE TABLE t_misc (id int PRIMARY KEY, u uuid, j json, jb jsonb);
CREATE TABLE t_array (id int PRIMARY KEY, ia int[], ta text[], na numeric[],
                      da date[]);
CREATE TABLE t_user (id int PRIMARY KEY, p posint, s shorttext, m mood,
                     c pair, ma mood[], pa posint[]);
CREATE TABLE t_other (id int PRIMARY KEY, ip inet, pt point, r int4range,
                      tr tstzrange);

INSERT INTO t_int VALUES
    (1, 0, 0, 0, 0),
    (2, -32768, -2147483648, -9223372036854775808, 4294967295),
    (3, 32767, 2147483647, 9223372036854775807, 1),
    (4, NULL, NULL, NULL, NULL),
    (5, -1, -1, -1, 16384);
INSERT INTO t_float VALUES
    (1, 0, 0),
    (2, '-0', '-0'),
    (3, 0.1, 0.1),
    (4, 'NaN', 'NaN'),
    (5, 'Infinity', 'Infinity'),
    (6, '-Infinity', '-Infinity'),
    (7, '1e-45', '5e-324'),                         -- smallest denormals
    (8, '1.17549435e-38', '2.2250738585072014e-308'), -- smallest normals
    (9, '3.4028235e38', '1.7976931348623157e308'),   -- largest finite
    (10, -1.5, '-123456789.123456789'),
    (11, NULL, NULL);
INSERT INTO t_numeric VALUES
    (1, 0, 0),
    (2, '-12.3400', 1.5),
    (3, 'NaN', 'NaN'),
    (4, 'Infinity', NULL),
    (5, '-Infinity', -0.00005),
    (6, 1e30, 1234567890.1234),
    (7, '1e-30', -0.0001),
    (8, '123456789012345678901234567890.123456789012345678901234567890', 0),
    (9, 2::numeric ^ 200, NULL),
    (10, NULL, NULL);
INSERT INTO t_text VALUES
    (1, true, 'plain', 'ab', 'ab', 'name', 'x'),
    (2, false, '', '', '', '', ''),
    (3, NULL, 'quote " backslash \ tab	newline
end', 'é', 'é', 'Ünïcödé', 'Z'),
    (4, true, '😀 emoji, 漢字 CJK, Ελληνικά', '漢字😀', '😀', '😀', NULL),
    (6, NULL, 'a "char" holding a byte above 127', NULL, NULL, NULL, '\303'),
    (5, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO t_bytea VALUES
    (1, '\x'),
    (2, '\x00'),
    (3, '\x00ff00017f80'),
    (4, NULL);
INSERT INTO t_date VALUES
    (1, '1970-01-01', '00:00', '00:00+00'),
    (2, '2000-01-01', '23:59:59.999999', '12:00:00+05:30'),
    (3, '0044-03-15 BC', '24:00:00', '23:59:59.5+14'),
    (4, '4714-11-24 BC', '12:34:56.789012', '00:00:01-08'),
    (5, '5874897-12-31', '00:00:00.000001', '01:02:03.000004-15:59:59'),
    (6, 'infinity', NULL, NULL),
    (7, '-infinity', NULL, NULL),
    (8, '1969-12-31', '12:00', '12:00-00:30'),
    (9, NULL, NULL, NULL);
INSERT INTO t_ts VALUES
    (1, '1970-01-01 00:00:00', '1970-01-01 00:00:00+00'),
    (2, '2000-01-01 00:00:00', '2000-01-01 00:00:00+00'),
    (3, '1999-12-31 23:59:59.999999', '2024-06-01 12:00:00.123456+02'),
    (4, '0044-03-15 12:00:00 BC', '0044-03-15 12:00:00+00 BC'),
    (5, '4714-11-24 00:00:00 BC', '4714-11-24 00:00:00+00 BC'),
    (6, '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00'),
    (7, 'infinity', 'infinity'),
    (8, '-infinity', '-infinity'),
    (9, '1969-12-31 23:59:59.999999', '1969-12-31 23:59:59.999999+00'),
    (10, NULL, NULL);
INSERT INTO t_interval VALUES
    (1, '0'),
    (2, '1 year 2 months 3 days 04:05:06.789'),
    (3, '-1 mons +2 days -00:00:01'),
    (4, '178000000 years'),
    (5, '-178000000 years'),
    (6, '0.000001 seconds'),
    (7, '2562047788 hours'),
    (8, NULL);
INSERT INTO t_misc VALUES
    (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b":1,  "a":[1, 2]}',
        '{"b":1,  "a":[1, 2]}'),
    (2, '00000000-0000-0000-0000-000000000000', '"😀"', '"😀"'),
    (3, 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', 'null'),
    (4, NULL, '[1.0, 1e3, -0]', '[1.0, 1e3, -0]'),
    (5, NULL, NULL, NULL);
INSERT INTO t_array VALUES
    (1, '{{1,NULL},{3,4}}', '{"a b",NULL,"é","","NULL"}', '{1.50,NaN}',
        '{infinity,2000-01-01}'),
    (2, '[0:1]={7,8}', '[-2:-2][3:4]={{x,y}}', '{}', '{}'),
    (3, '{}', '{}', '{{{1}},{{2}}}', NULL),
    (4, '{NULL}', NULL, NULL, '{NULL,-infinity}'),
    (5, NULL, NULL, NULL, NULL);
INSERT INTO t_user VALUES
    (1, 1, 'short', 'happy', ROW(1, 'a b', 0.1, '\x00ff', '2000-01-01',
                                 '1 day 01:00'), '{sad,happy}', '{1,2}'),
    (2, 2147483647, '', 'sad', ROW(NULL, NULL, 'NaN', '\x', '4714-11-24 BC',
                                   '-1 mons'), '{}', '{}'),
    (3, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO t_other VALUES
    (1, '192.168.0.1/24', '(1.5,-2)', '[1,10)',
        '[2000-01-01 00:00:00+00,2000-01-02 00:00:00.5+00)'),
    (2, '::1', '(0.1,1e300)', 'empty', 'empty'),
    (3, NULL, NULL, NULL, NULL);

-- Decode once under the default settings and keep the messages.
CREATE TEMP TABLE msgs (n bigint, m jsonb);
INSERT INTO msgs SELECT n, m FROM w2p_peek('types') WITH ORDINALITY AS a(m, n);
SELECT m FROM msgs ORDER BY n;

-- The insert messages of one table, by id.
CREATE FUNCTION vals(rel text) RETURNS TABLE (id int, v jsonb)
LANGUAGE sql AS $$
    SELECT (m #>> '{insert,new_tuple,values,0,int_value}')::int,
           m #> '{insert,new_tuple,values}'
      FROM msgs WHERE m #>> '{insert,relation_id}' = rel
$$;

-- Exactness: every rendered value against the stored value.
SELECT count(*) AS rows,
       bool_and((v->1->>'int_value')::int2 IS NOT DISTINCT FROM i2
            AND (v->2->>'int_value')::int4 IS NOT DISTINCT FROM i4
            AND (v->3->>'int_value')::int8 IS NOT DISTINCT FROM i8
            AND (v->4->>'int_value')::oid IS NOT DISTINCT FROM o) AS exact
  FROM vals('t_int') JOIN t_int USING (id);

SELECT count(*) AS rows,
       bool_and((v->1->>'float4_value')::float4 IS NOT DISTINCT FROM f4
            AND (v->2->>'float8_value')::float8 IS NOT DISTINCT FROM f8) AS exact
  FROM vals('t_float') JOIN t_float USING (id);
-- jsonb has no negative zero: look for -0 in the bytes on the wire instead
-- (Value.float4_value: tag 0x25 then 00000080; float8_value: 0x29, then
-- 0000000000000080)
SELECT bool_or(position('\x2500000080'::bytea IN data) > 0) AS float4_minus_zero,
       bool_or(position('\x290000000000000080'::bytea IN data) > 0) AS float8_minus_zero
  FROM pg_logical_slot_peek_binary_changes('types', NULL, NULL);

SELECT count(*) AS rows,
       bool_and(v->1->>'numeric_value' IS NOT DISTINCT FROM n::text
            AND v->2->>'numeric_value' IS NOT DISTINCT FROM n4::text) AS exact
  FROM vals('t_numeric') JOIN t_numeric USING (id);

SELECT count(*) AS rows,
       bool_and((v->1->>'bool_value')::bool IS NOT DISTINCT FROM b
            AND v->2->>'text_value' IS NOT DISTINCT FROM t
            AND v->3->>'text_value' IS NOT DISTINCT FROM vc
            AND v->4->>'text_value' IS NOT DISTINCT FROM bp::text || repeat(' ', 5 - length(bp))
            AND v->5->>'text_value' IS NOT DISTINCT FROM nm::text
            AND v->6->>'text_value' IS NOT DISTINCT FROM CASE WHEN ch IS NOT NULL THEN format('%s', ch) END) AS exact
  FROM vals('t_text') JOIN t_text USING (id);

SELECT count(*) AS rows,
       bool_and(decode(substr(v->1->>'bytea_value', 3), 'hex')
                IS NOT DISTINCT FROM b) AS exact
  FROM vals('t_bytea') JOIN t_bytea USING (id);

SELECT count(*) AS rows,
       bool_and(CASE WHEN isfinite(d) THEN (v->1->>'date_value')::int = d - '1970-01-01'
                     WHEN d IS NULL THEN v->1->>'marker' = 'MARKER_NULL'
                     ELSE v->1->>'infinity' = CASE WHEN d > '1970-01-01' THEN 'INFINITY_POSITIVE'
                                                   ELSE 'INFINITY_NEGATIVE' END END
            AND (v->2->>'time_value')::bigint IS NOT DISTINCT FROM (extract(epoch FROM t) * 1000000)::bigint
            AND CASE WHEN tz IS NULL THEN v->3->>'marker' = 'MARKER_NULL'
                     ELSE coalesce((v#>>'{3,timetz_value,time}')::bigint, 0) = (extract(epoch FROM tz::time) * 1000000)::bigint
                      AND coalesce((v#>>'{3,timetz_value,utc_offset}')::int, 0) = extract(timezone FROM tz) END) AS exact
  FROM vals('t_date') JOIN t_date USING (id);

-- timestamps are exact; the few near the end of PostgreSQL's range that
-- int64 microseconds since 1970 cannot hold are sent as text
SELECT count(*) AS rows,
       bool_and(CASE WHEN ts IS NULL THEN v->1->>'marker' = 'MARKER_NULL'
                     WHEN NOT isfinite(ts) THEN v->1->>'infinity' IS NOT NULL
                     WHEN v->1 ? 'text_output'
                     THEN extract(epoch FROM ts) * 1000000 > 9223372036854775807
                     ELSE (v->1->>'timestamp_value')::numeric = extract(epoch FROM ts) * 1000000 END
            AND CASE WHEN tstz IS NULL THEN v->2->>'marker' = 'MARKER_NULL'
                     WHEN NOT isfinite(tstz) THEN v->2->>'infinity' IS NOT NULL
                     WHEN v->2 ? 'text_output'
                     THEN extract(epoch FROM tstz) * 1000000 > 9223372036854775807
                     ELSE (v->2->>'timestamptz_value')::numeric = extract(epoch FROM tstz) * 1000000 END) AS exact,
       count(*) FILTER (WHERE v->1 ? 'text_output' OR v->2 ? 'text_output') AS as_text
  FROM vals('t_ts') JOIN t_ts USING (id);

SELECT count(*) AS rows,
       bool_and(i IS NULL OR
                (coalesce((v#>>'{1,interval_value,months}')::int, 0) = extract(year FROM i) * 12 + extract(month FROM i)
             AND coalesce((v#>>'{1,interval_value,days}')::int, 0) = extract(day FROM i)
             AND coalesce((v#>>'{1,interval_value,microseconds}')::bigint, 0)
                 = extract(epoch FROM i - date_trunc('day', i)) * 1000000)) AS exact
  FROM vals('t_interval') JOIN t_interval USING (id);

SELECT count(*) AS rows,
       bool_and((v->1->>'uuid_value')::uuid IS NOT DISTINCT FROM u
            AND v->2->>'json_value' IS NOT DISTINCT FROM j::text
            AND v->3->>'json_value' IS NOT DISTINCT FROM jb::text) AS exact
  FROM vals('t_misc') JOIN t_misc USING (id);

SELECT count(*) AS rows,
       bool_and(v->1->>'text_output' IS NOT DISTINCT FROM CASE WHEN ip IS NOT NULL THEN format('%s', ip) END
            AND v->2->>'text_output' IS NOT DISTINCT FROM CASE WHEN pt IS NOT NULL THEN format('%s', pt) END
            AND v->3->>'text_output' IS NOT DISTINCT FROM CASE WHEN r IS NOT NULL THEN format('%s', r) END) AS exact
  FROM vals('t_other') JOIN t_other USING (id);

-- The same decoding under unusual output settings gives identical messages.
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Kathmandu';
SET IntervalStyle = 'sql_standard';
SET bytea_output = 'escape';
SET extra_float_digits = 0;
SET lc_monetary = 'C';
SELECT count(*) AS messages,
       count(*) FILTER (WHERE a.m IS DISTINCT FROM msgs.m) AS different
  FROM w2p_peek('types') WITH ORDINALITY AS a(m, n) FULL JOIN msgs USING (n);
RESET ALL;

SELECT count(*) FROM w2p('types');
SELECT pg_drop_replication_slot('types');
DROP TABLE t_int, t_float, t_numeric, t_text, t_bytea, t_date, t_ts,
    t_interval, t_misc, t_array, t_user, t_other;
DROP FUNCTION vals(text);
DROP TYPE pair, mood;
DROP DOMAIN posint, shorttext;
