#!/usr/bin/env bash
# e2e_mongo_types.sh
#    The MongoDB target, operation by operation and type by type: every
#    type of the mapping (extremes, NULLs, arrays, json), composite keys,
#    key-changing updates (with and without unchanged TOAST), updates that
#    leave TOAST values alone, truncate, REPLICA IDENTITY FULL without a
#    key, per-table database/collection from a config file, and the refusal
#    of a table whose changes cannot be matched.  Every collection is then
#    compared with its table, document by document, as exact BSON.
#
#    usage: e2e_mongo_types.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/e2e_mongo_lib.sh"

e2e_start 55460
mongo_start 55470 public walapply renamed absent

e2e_psql <<'SQL'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int4 CHECK (VALUE > 0);
CREATE TABLE types (
  id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8,
  n numeric, n2 numeric(12,4), b bool, tx text, vc varchar(10), bp char(5), nm name,
  ch "char", by bytea, u uuid, d date, ts timestamp, tz timestamptz, tm time,
  ttz timetz, iv interval, js json, jb jsonb, ai int[], at text[], a2 int[][],
  ats timestamptz[], an numeric[], e mood, dom posint, rng int4range, pt point,
  ip inet, bits varbit, tsv tsvector, ae mood[]);
CREATE TABLE comp (a text, b int, v text, PRIMARY KEY (a, b));
CREATE TABLE toast (id int PRIMARY KEY, big text, other int, ts timestamptz);
ALTER TABLE toast ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE full_nokey (a int, b text, c timestamptz);
ALTER TABLE full_nokey REPLICA IDENTITY FULL;
CREATE TABLE trunc (id bigint PRIMARY KEY, v text);
CREATE TABLE moved (id int PRIMARY KEY, v text);
SQL
cat >"$E2E_WORK/mongo.yaml" <<'YAML'
tables:
  public.moved:
    database: renamed
    collection: elsewhere
YAML
cat >"$E2E_WORK/absent.yaml" <<'YAML'
progress_key: mtypes-absent
nulls: absent
tables:
  public.types: {database: absent}
  public.comp: {database: absent}
  public.toast: {database: absent}
  public.full_nokey: {database: absent}
  public.trunc: {database: absent}
  public.moved: {database: absent}
YAML
"$WALAPPLY" -d "$CONN" -S mtypes --create-slot

e2e_psql <<'SQL'
SET TimeZone = 'Asia/Kolkata';
INSERT INTO types VALUES
 (1, 32767, -2147483648, 9223372036854775807, 4294967295, 0.1, 1.7976931348623157e308,
  '-12.3400', 3.14159, true, 'héllo wörld ☃', 'short', 'ab', 'nm', 'x', '\x00ff10',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '2024-02-29 12:34:56.789012',
  '1969-12-31 23:59:59.999999+00', '23:59:59.999999', '12:00:00+05:30',
  '1 year 2 mons 3 days 04:05:06.5', '{"b": 1, "a": [1, 2.50, "x"], "$odd.key": null}',
  '{"n": 12345678901, "f": 1.5e3, "neg": -0.000001, "nest": {"x": [true, false, null]}}',
  '{1,NULL,3}', '{"a","b c",NULL}', '{{1,2,3},{4,5,6}}',
  '{"2020-01-01 00:00:00.000001+00","infinity",NULL}', '{1.10,NaN}', 'happy', 7,
  '[1,10)', '(1.5,-2)', '192.168.0.1/24', B'10101', 'a fat:1 cat', '{sad,ok}'),
 (2, -1, 0, -1, 0, 'NaN', '-Infinity', 'NaN', NULL, false, '', '', '', '', '',
  '\x', '00000000-0000-0000-0000-000000000000', 'infinity', '-infinity', 'infinity',
  '00:00:00', '00:00:00-01', '-1 days -01:02:03.5', '[]', '{}', '{}', '{}', '{}', '{}',
  '{}', 'sad', 1, 'empty', '(0,0)', '::1', B'', '', '{}'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 1, 1, 1, 1, 'Infinity', 'NaN', ('1' || repeat('0', 40) || '.5')::numeric, '-0.0001', true,
  repeat('long text ', 50), 'v', 'abcde', 'name', 'z', '\xdeadbeef',
  'ffffffff-ffff-ffff-ffff-ffffffffffff', '0001-01-01 BC', '1900-01-01 00:00:00.0005',
  '2262-04-11 23:47:16.854775+00', '00:00:00.000001', '23:59:59+14', '0', '"just a string"',
  '[1, "two", {"three": 3}]', '{-2147483648,2147483647}', '{"\""}', '{{NULL}}',
  '{"1970-01-01 00:00:00.000999+00"}', '{99999999999999999999999999999999999}', 'ok', 2,
  '(,5]', '(3,4)', '10.0.0.0/8', B'1', 'x:1A', NULL);
INSERT INTO comp VALUES ('k1', 1, 'one'), ('k1', 2, 'two'), ('k2', 1, 'three');
INSERT INTO toast SELECT g, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 300) i),
  g, '2024-01-01 00:00:00.123456+00' FROM generate_series(1, 6) g;
INSERT INTO full_nokey VALUES (1, 'a', '2024-01-01 00:00:00.5+00'), (1, 'a', '2024-01-01 00:00:00.5+00'),
  (2, NULL, NULL), (3, 'c', now());
INSERT INTO trunc SELECT g, 'before' FROM generate_series(1, 50) g;
INSERT INTO moved VALUES (1, 'elsewhere');
SQL

e2e_psql <<'SQL'
-- Updates of some columns: the documents get every column the change carries.
UPDATE types SET i4 = i4 + 1, tx = 'changed', jb = '{"new": [1]}', ts = '2001-02-03 04:05:06.000007' WHERE id = 1;
UPDATE types SET f8 = 2.5, ats = NULL WHERE id = 2;
UPDATE types SET n = 'Infinity', tz = '2020-01-01 00:00:00+00' WHERE id = 3;
-- Composite keys: a plain update and a key change.
UPDATE comp SET v = 'uno' WHERE a = 'k1' AND b = 1;
UPDATE comp SET b = 20, v = 'moved' WHERE a = 'k1' AND b = 2;
UPDATE comp SET a = 'k3' WHERE a = 'k2';
DELETE FROM comp WHERE a = 'k1' AND b = 1;
-- TOAST: updates that leave big alone, a key change that leaves it alone,
-- and one that changes it.
UPDATE toast SET other = other * 10 WHERE id <= 3;
UPDATE toast SET id = id + 100, ts = '2030-01-01 00:00:00.000001+00' WHERE id = 2;
UPDATE toast SET id = id + 200 WHERE id = 3;
UPDATE toast SET big = 'small now' WHERE id = 4;
BEGIN;
INSERT INTO toast VALUES (50, repeat(md5('x'), 200), 0, NULL);
UPDATE toast SET other = 1 WHERE id = 50;
UPDATE toast SET id = 51 WHERE id = 50;
COMMIT;
DELETE FROM toast WHERE id = 5;
-- Keyless under REPLICA IDENTITY FULL: one of two identical rows changes.
UPDATE full_nokey SET b = 'b' WHERE ctid = (SELECT min(ctid) FROM full_nokey WHERE a = 1);
DELETE FROM full_nokey WHERE a = 2;
UPDATE full_nokey SET c = '1999-12-31 23:59:59.999999+00' WHERE a = 3;
-- Truncate, then new rows.
BEGIN;
INSERT INTO trunc VALUES (1000, 'lost');
TRUNCATE trunc;
INSERT INTO trunc SELECT g, 'after' FROM generate_series(1, 5) g;
COMMIT;
UPDATE moved SET v = 'still elsewhere';
SQL

END=$(e2e_wal_lsn)
# Two MongoDB targets at once: NULLs as null, and NULLs as absent fields
# (every table mapped to database "absent" by its config file).
"$WALAPPLY" -d "$CONN" -S mtypes --start -E "$END" -s 1 -v \
	--target "${MURI}?slot=mtypes&config=$E2E_WORK/mongo.yaml" \
	--target "${MURI}?config=$E2E_WORK/absent.yaml" 2>"$E2E_WORK/walapply.log" ||
	{ cat "$E2E_WORK/walapply.log" >&2; fail "walapply failed"; }

mongo_compare --database public --exclude moved
mongo_compare --database absent --nulls absent
# moved went to renamed.elsewhere, not to public.moved.
mongo_eval '
d = client.renamed.elsewhere.find_one({"_id": 1})
assert d == {"_id": 1, "id": 1, "v": "still elsewhere"}, d
assert client.public.moved.count_documents({}) == 0
p = client.walapply.progress.find_one({"_id": "mtypes"})
assert p and p["commit_lsn"] > 0 and p["end_lsn"] > p["commit_lsn"], p
print("e2e: config mapping and progress document as expected")
'

# A second run from the same slot finds where MongoDB stands and applies
# nothing twice (walapply reports what the target holds).
e2e_psql -c "INSERT INTO trunc VALUES (6, 'later')"
END=$(e2e_wal_lsn)
"$WALAPPLY" -d "$CONN" -S mtypes --start -E "$END" -s 1 -v \
	--target "${MURI}?slot=mtypes&config=$E2E_WORK/mongo.yaml" 2>"$E2E_WORK/walapply2.log" ||
	{ cat "$E2E_WORK/walapply2.log" >&2; fail "walapply failed on the second run"; }
grep -q "holds transactions up to commit" "$E2E_WORK/walapply2.log" || fail "no held position reported"
mongo_compare --database public --exclude moved

# A table whose updates and deletes could not be matched is refused, with
# the relation named.
e2e_psql -c "CREATE TABLE nokey (a int); INSERT INTO nokey VALUES (1)"
END=$(e2e_wal_lsn)
rc=0
"$WALAPPLY" -d "$CONN" -S mtypes --start -E "$END" -s 1 -n \
	--target "${MURI}?slot=mtypes" 2>"$E2E_WORK/walapply3.log" || rc=$?
[ $rc -ne 0 ] || fail "walapply accepted a table without a key"
grep -q '"public"."nokey" has no primary key or replica identity' "$E2E_WORK/walapply3.log" ||
	{ cat "$E2E_WORK/walapply3.log" >&2; fail "the refusal does not name the table"; }

# A write that MongoDB refuses whatever the retries (a document over 16 MB)
# stops walapply with the commit LSN, the relation and the row's key.
e2e_psql -c "CREATE TABLE big (id int PRIMARY KEY, b bytea)"
"$WALAPPLY" -d "$CONN" -S mbig --create-slot
e2e_psql -c "INSERT INTO big VALUES (1, 'small'), (42, decode(repeat('00', 17000000), 'hex'))"
END=$(e2e_wal_lsn)
rc=0
"$WALAPPLY" -d "$CONN" -S mbig --start -E "$END" -s 1 -n -o include-tables=public.big \
	--target "${MURI}?slot=mbig" 2>"$E2E_WORK/walapply4.log" || rc=$?
[ $rc -ne 0 ] || fail "walapply accepted a document over 16 MB"
tail -n 1 "$E2E_WORK/walapply4.log" | sed "s/^/e2e: refused: /"
grep -q 'transaction committed at [0-9A-F]*/[0-9A-F]* to relation "public"."big" key { "_id" : { "$numberInt" : "42" } }: the document is 17000030 bytes' "$E2E_WORK/walapply4.log" ||
	fail "the write error does not name the LSN, relation and key"

# The comparison is exact: the same number as Int32 instead of Int64 is a
# difference.
mongo_eval 'client.public.types.update_one({"_id": 1}, {"$set": {"i8": 5}}); client.public.types.update_one({"_id": 2}, {"$set": {"i8": 5}})'
e2e_psql -c "UPDATE types SET i8 = 5 WHERE id = 1"
if "$MONGO_PY" "$MONGO_TOOLS/compare.py" --pg "host=127.0.0.1 port=$PGCLUSTER_PORT user=postgres dbname=postgres" \
	--mongo "$MURI" --database public --exclude moved 2>"$E2E_WORK/compare.err"; then
	fail "the comparison missed an Int32 where an Int64 belongs"
fi
grep -q 'document {"_id": {"$numberInt": "1"}} field i8: expected {"i8": {"$numberLong": "5"}}, got {"i8": {"$numberInt": "5"}}' "$E2E_WORK/compare.err" ||
	{ cat "$E2E_WORK/compare.err" >&2; fail "unexpected comparison report"; }

# A MongoDB that comes back without writes it acknowledged stops walapply
# rather than letting it carry on over the gap.
if [ "$MONGO_OWN" = 1 ]; then
	e2e_psql -c "DROP TABLE big, nokey"
	"$WALAPPLY" -d "$CONN" -S mlost --create-slot
	"$WALAPPLY" -d "$CONN" -S mlost --start -s 1 -v --target "${MURI}?slot=mlost" \
		2>"$E2E_WORK/walapply5.log" &
	WPID=$!
	E2E_PIDS+=("$WPID")
	e2e_psql -c "INSERT INTO trunc VALUES (7, 'seen')"
	for _ in $(seq 1 100); do
		mongo_eval 'sys.exit(0 if client.public.trunc.find_one({"_id": 7}) else 1)' 2>/dev/null && break
		sleep 0.1
	done
	mongo_lose_everything
	e2e_psql -c "INSERT INTO trunc VALUES (8, 'after the loss')"
	rc=0
	for _ in $(seq 1 100); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
	wait "$WPID" || rc=$?
	[ $rc -ne 0 ] || fail "walapply went on after MongoDB lost acknowledged writes"
	grep -q "lost writes" "$E2E_WORK/walapply5.log" ||
		{ tail -n 3 "$E2E_WORK/walapply5.log" >&2; fail "no message about the lost writes"; }
	echo "e2e: a MongoDB that lost acknowledged writes stops walapply"
fi
mongo_stop
echo "e2e_mongo_types: OK"
