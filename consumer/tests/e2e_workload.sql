-- e2e_workload.sql
--    The mixed workload of the end-to-end replay test.  Needs
--    logical_decoding_work_mem small (streaming) and prepared transactions.
\set ON_ERROR_STOP 1
SET extra_float_digits = 3;

INSERT INTO vals VALUES
 (1, -32768, -2147483648, -9223372036854775808, 4294967295, 'NaN', '-Infinity',
  'NaN', -12.3400, true, E'quote'' back\\slash\nnew line\ttab\r', 'ünïcödé ✓ 𝄞',
  'ab', 'nm', '\x00ff10', 'infinity', '24:00:00', '23:59:59.999999+05:30',
  '-infinity', 'infinity', '-178000000 years', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '{"b": 1,  "a" : [1, "x\ny"]}', '{"k": "v\u00e9", "n": 1.50, "z": null}',
  '{1,NULL,3}', '{"a\"b","c,d","NULL",NULL,"","  sp","{x}"}', '{{1,2},{3,4}}',
  'happy', 5, '(1.5,-2)', '[1,10)', '192.168.0.1/24', B'1010', '<a>x &amp; y</a>',
  '{2000-01-01,infinity}', '{"2020-02-29 12:00:00+00",NULL}'),
 (2, 32767, 2147483647, 9223372036854775807, 0, '3.4028235e38', '1e-300',
  '123456789012345678901234567890.123456789', 'NaN', false, '', '', '', '',
  '', '4713-01-01 BC', '00:00:00', '00:00:00-12:00', '0044-03-15 12:00:00 BC',
  '1900-01-01 00:00:00+00', '1 mon 2 days -00:00:01.5', '00000000-0000-0000-0000-000000000000',
  '[]', '[]', '{}', '{}', '[0:2]={7,8,9}', 'sad', 1, '(0,0)', 'empty', '::1',
  B'0000', '', '{}', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0, 0, 0, '-0', '-0', 'Infinity', 0, NULL, 'plain', 'x', 'abcde', 'x',
  '\x', '2024-02-29', '12:34:56.789', '12:00:00+14', '2024-02-29 23:59:59.999999',
  '2024-06-30 23:59:60+02', '-178000000 years -2147483647 days -2562047788:00:54.775807',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', '"s"', '{-1}', '{"\\"}',
  '{{{1},{2}}}', 'ok', 2147483647, '(-1e-300,1e300)', '(,5]', '10.0.0.0/8',
  B'1111', '<r/>', '{-infinity}', '{infinity,-infinity}');
UPDATE vals SET t = 'changed', f8 = 0.1, f4 = 0.1 WHERE id = 1;
UPDATE vals SET id = 20 WHERE id = 2;
DELETE FROM vals WHERE id = 3;

INSERT INTO "Odd ""Name"".x" VALUES (1, 'a'), (2, 'b'), (3, '"; DROP TABLE vals; --');
UPDATE "Odd ""Name"".x" SET "wé;ird" = 'c' WHERE "Key col" = 1;
UPDATE "Odd ""Name"".x" SET "Key col" = 5 WHERE "Key col" = 2;
DELETE FROM "Odd ""Name"".x" WHERE "Key col" = 3;

INSERT INTO rid_index
  SELECT g, 'k' || g, 'v' || g, (SELECT string_agg(md5(random()::text || h), '') FROM generate_series(1, 300) h)
  FROM generate_series(1, 5) g;
UPDATE rid_index SET v = 'only v changed' WHERE a = 1;  -- big: unchanged TOAST
UPDATE rid_index SET b = 'new key' WHERE a = 2;
DELETE FROM rid_index WHERE a = 3;

INSERT INTO rid_full VALUES ('(1,2)', '{"a":1}', 'dup', 1), ('(1,2)', '{"a":1}', 'dup', 1),
  ('(3,4)', NULL, 'x', 2), (NULL, '[1, 2]', NULL, NULL);
UPDATE rid_full SET n = 5 WHERE ctid = (SELECT ctid FROM rid_full WHERE v = 'dup' LIMIT 1);
DELETE FROM rid_full WHERE j IS NULL;
UPDATE rid_full SET v = 'was null' WHERE v IS NULL;

INSERT INTO rid_nothing VALUES (1, 'a'), (2, 'b');
TRUNCATE rid_nothing;
INSERT INTO rid_nothing VALUES (3, 'c');
INSERT INTO no_pk VALUES (1, 'x'), (1, 'x');
INSERT INTO ser (v) VALUES ('a'), ('b'), ('c');
TRUNCATE ser RESTART IDENTITY;
INSERT INTO ser (v) VALUES ('d');

INSERT INTO simple SELECT g, 'row ' || g, g * 1.25, g % 2 = 0, g / 3.0, jsonb_build_object('g', g)
  FROM generate_series(1, 50) g;
UPDATE simple SET v = NULL, f = 'NaN' WHERE id = 7;
UPDATE simple SET f = '-Infinity', n = 'NaN' WHERE id = 8;
UPDATE simple SET id = 1000 WHERE id = 9;
DELETE FROM simple WHERE id BETWEEN 10 AND 19;
TRUNCATE simple, no_pk;
INSERT INTO simple VALUES (1, E'after\ntruncate', 1, true, 0.1, '{"deep": {"a": [1, {"b": null}]}}'),
  (2, 'two', -0.0001, false, 1e-10, '[]');
INSERT INTO no_pk VALUES (9, 'after truncate');

-- A transaction large enough to be streamed, with a rolled-back and a
-- released subtransaction.
BEGIN;
INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g;
SAVEPOINT s1;
INSERT INTO big SELECT g, 'aborted' FROM generate_series(20001, 25000) g;
UPDATE big SET v = 'aborted too' WHERE id <= 100;
ROLLBACK TO s1;
SAVEPOINT s2;
UPDATE big SET v = 'kept' WHERE id <= 5000;
RELEASE s2;
DELETE FROM big WHERE id > 19000;
SELECT pg_logical_emit_message(true, 'e2e', 'in a streamed transaction') IS NOT NULL AS emitted \gset
COMMIT;
-- A small (not streamed) transaction with a rolled-back subtransaction.
BEGIN;
INSERT INTO big VALUES (-1, 'kept small');
SAVEPOINT s3;
INSERT INTO big VALUES (-2, 'aborted');
ROLLBACK TO s3;
COMMIT;
-- A streamed transaction that aborts entirely.
BEGIN;
INSERT INTO big SELECT g, 'gone' FROM generate_series(30001, 40000) g;
ROLLBACK;

-- Messages.
SELECT pg_logical_emit_message(false, 'nt', '\x00ff'::bytea) IS NOT NULL AS emitted \gset
BEGIN;
INSERT INTO marker VALUES (1);
SELECT pg_logical_emit_message(true, 'tx', E'with\nnewline') IS NOT NULL AS emitted \gset
COMMIT;

-- Two-phase: commit one, roll back one, commit a large (streamed) one,
-- with ordinary commits in between.
BEGIN;
INSERT INTO simple VALUES (100, 'prepared', 1, true, 1.5, '{}');
PREPARE TRANSACTION 'g1';
BEGIN;
INSERT INTO simple VALUES (101, 'rolled back', 1, true, 1.5, '{}');
PREPARE TRANSACTION 'g2';
INSERT INTO simple VALUES (102, 'between', 2, false, 2.5, '{"x": 1}');
COMMIT PREPARED 'g1';
ROLLBACK PREPARED 'g2';
BEGIN;
INSERT INTO big SELECT g, 'p' FROM generate_series(50001, 60000) g;
PREPARE TRANSACTION 'g3';
UPDATE simple SET v = 'after g3 prepared' WHERE id = 102;
COMMIT PREPARED 'g3';

INSERT INTO marker VALUES (2);
