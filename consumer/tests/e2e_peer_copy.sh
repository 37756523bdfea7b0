#!/usr/bin/env bash
# e2e_peer_copy.sh
#    The bulk paths of the postgresql:// peer target, end to end.
#
#    pipeline=off: runs of inserts sent with COPY (binary for a table whose
#    every column has a binary form, text for one with enums, domains,
#    arrays, geometric and other types, a keyless table with duplicate
#    rows), runs of updates and deletes over unnest() (and over VALUES where
#    a column is an array).
#    pipeline=on (the default): transactions whose every change has a
#    one-statement form are sent whole in pipeline mode, with binary array
#    parameters; the others as with pipeline=off.
#
#    Every value family with its extremes must arrive exactly (table
#    digests).  Then the conflicts a bulk statement cannot resolve by
#    itself: a run meeting a row written locally (unique violation: the
#    transaction is applied again, without COPY, and the conflict resolved
#    and logged), and a run meeting a tombstone (insert_deleted).  The
#    counters walapply prints at exit show which path each took.
#
#    ssl: as on, over an SSL connection to the target, where each COPY's
#    data goes through libpq when the server asks for it (unencrypted, it
#    goes right behind the query).
#
#    usage: e2e_peer_copy.sh PATH_TO_WALAPPLY on|off|ssl

source "$(dirname "$0")/e2e_lib.sh"
MODE=${2:?usage: $0 PATH_TO_WALAPPLY on|off|ssl}
PIPELINE=$MODE
SSLMODE=
if [ "$MODE" = ssl ]; then
	PIPELINE=on
	SSLMODE="&sslmode=require"
fi

e2e_start 55456 "track_commit_timestamp = on"
if [ "$MODE" = ssl ]; then
	# A self-signed certificate in the data directory, and SSL on (a reload
	# is enough).
	data=$(e2e_psql -c "SHOW data_directory")
	pgcluster_as_user openssl req -new -x509 -days 2 -nodes -subj "/CN=127.0.0.1" \
		-keyout "$data/server.key" -out "$data/server.crt" 2>"$E2E_WORK/openssl.log" ||
		fail "openssl could not make a certificate: $(cat "$E2E_WORK/openssl.log")"
	pgcluster_as_user chmod 600 "$data/server.key"
	e2e_psql -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
	sleep 0.5
fi

SCHEMA="$E2E_WORK/schema.sql"
{
	cat "$E2E_HERE/e2e_schema.sql"
	cat <<'SQL'
CREATE TABLE bin_vals (
  id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8,
  n numeric, n2 numeric(14,4), b bool, t text, vc varchar(20), c char(5),
  nm name, "by" bytea, d date, tm time, ttz timetz, ts timestamp,
  tstz timestamptz, iv interval, u uuid, js json, jb jsonb);
CREATE TABLE nums (id int PRIMARY KEY, n numeric);
CREATE TABLE plain (id int PRIMARY KEY, t text);
CREATE TABLE bulk (id int PRIMARY KEY, t text);
CREATE TABLE dfr (id int PRIMARY KEY, v int);
CREATE TABLE dfr_late (id int PRIMARY KEY, v int);
CREATE TABLE keyless (a int, v text);
ALTER TABLE keyless REPLICA IDENTITY FULL;
SQL
} >"$SCHEMA"
e2e_psql -f "$SCHEMA"
e2e_psql_db replay -f "$SCHEMA"

TARGET="postgresql://127.0.0.1:$PGCLUSTER_PORT/replay?user=postgres&source=src&node=dst&pipeline=$PIPELINE$SSLMODE"
"$WALAPPLY" -d "$CONN" -S copy --create-slot
start_walapply()
{
	"$WALAPPLY" -d "$CONN" -S copy --start -o origin=none -v --target "$TARGET" \
		2>>"$E2E_WORK/walapply.log" &
	WPID=$!
	E2E_PIDS+=("$WPID")
}
stop_walapply()
{
	kill -TERM "$WPID"
	local rc=0
	wait "$WPID" || rc=$?
	[ $rc -eq 0 ] || { cat "$E2E_WORK/walapply.log" >&2; fail "walapply exited with $rc"; }
}
# wait_applied: until the target holds everything committed so far on the
# source (a new row of table marker, committed last, has arrived).
MARK=0
wait_applied()
{
	MARK=$((MARK + 1))
	e2e_psql -c "INSERT INTO marker VALUES ($MARK)"
	for _ in $(seq 1 300); do
		if [ "$(e2e_psql_db replay -c "SELECT count(*) FROM marker WHERE id = $MARK")" = 1 ]; then
			return 0
		fi
		kill -0 "$WPID" 2>/dev/null || { cat "$E2E_WORK/walapply.log" >&2; fail "walapply exited early"; }
		sleep 0.1
	done
	cat "$E2E_WORK/walapply.log" >&2
	fail "the target did not receive marker $MARK"
}
start_walapply

# The four rows of every value family (with their extremes) of the replay
# test, four times over, in one transaction: one run of 16 inserts per table.
sed -n '/^INSERT INTO vals VALUES/,/);$/p' "$E2E_HERE/e2e_workload.sql" >"$E2E_WORK/vals.sql"
e2e_psql <<SQL
SET extra_float_digits = 3;
BEGIN;
-- (created first: its catalog changes would make the plugin send vals'
-- Relation again, which ends a run)
CREATE TEMP TABLE tv (LIKE vals);
$(cat "$E2E_WORK/vals.sql")
INSERT INTO tv SELECT * FROM vals;
UPDATE tv SET id = id + 10; INSERT INTO vals SELECT * FROM tv;
UPDATE tv SET id = id + 10; INSERT INTO vals SELECT * FROM tv;
UPDATE tv SET id = id + 10; INSERT INTO vals SELECT * FROM tv;
COMMIT;
-- Only types with a binary form, and keyless inserts: a transaction that
-- can go whole in a pipeline.
BEGIN;
INSERT INTO bin_vals SELECT id, i2, i4, i8, o, f4, f8, n, n2, b, t, vc, c, nm,
  "by", d, tm, ttz, ts, tstz, iv, u, js, jb FROM vals ORDER BY id;
INSERT INTO nums SELECT g, v FROM unnest(ARRAY['0', '0.0000', '-0.5', '10000',
  '0.0001', '-1e-20', '99999999999999999999.99999999', '1e100', '-1e-100',
  'NaN', 'Infinity', '-Infinity', '123.450', '100000000.00010000',
  '0.00000001', '-0', '12345678.12345678', '1000000000000', '0.1000',
  '-9999.9999']::numeric[]) WITH ORDINALITY AS u(v, g);
INSERT INTO keyless SELECT g % 3, 'v' || (g % 3) FROM generate_series(1, 12) g;
COMMIT;
SQL
wait_applied
e2e_compare replay
if [ "$MODE" = ssl ]; then
	[ "$(e2e_psql -c "SELECT string_agg(s.ssl::text, ',') FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'walapply src->dst'")" = true ] ||
		fail "the link's session is not over SSL"
fi

# Runs of updates (unnest(); VALUES for vals, whose arrays unnest() would
# flatten) and of deletes.
e2e_psql <<'SQL'
UPDATE bin_vals SET t = coalesce(t, '') || ' upd', n = n + 1, i8 = i8 / 2;
BEGIN;
UPDATE vals SET t = 'u2', ai = '{5,6}' WHERE id > 10;
UPDATE keyless SET v = v || '!' WHERE a = 1;
COMMIT;
BEGIN;
DELETE FROM bin_vals WHERE id > 20;
DELETE FROM nums WHERE id > 10;
COMMIT;
BEGIN;
DELETE FROM vals WHERE id > 30;
DELETE FROM keyless WHERE a = 2;
COMMIT;
SQL
wait_applied
e2e_compare replay
[ "$(e2e_psql_db replay -c "SELECT count(*) FROM wal2proto.conflicts")" = 0 ] ||
	fail "conflicts logged without any conflict"

# A run meeting a row written on the target: COPY fails on the unique key,
# the transaction is applied again without COPY, the remote insert (later)
# wins and the conflict is logged.
e2e_psql_db replay -c "INSERT INTO bin_vals (id, t) VALUES (100, 'local')"
e2e_psql -c "INSERT INTO bin_vals (id, t) SELECT g, 'remote ' || g FROM generate_series(100, 109) g"
wait_applied
e2e_compare replay
[ "$(e2e_psql_db replay -c "SELECT conflict_type || ' ' || resolution || ' ' || (local_row->>'t') || ' ' || (remote_row->>'t') FROM wal2proto.conflicts")" = \
	"insert_exists apply_remote local remote 100" ] ||
	fail "the insert_exists conflict of the COPY run is not logged as expected: $(e2e_psql_db replay -c "SELECT * FROM wal2proto.conflicts")"

# A run meeting a tombstone: the source inserts 200..209, then (before the
# link applies it) the target inserts and deletes 200 itself.  The delete is
# newer, so the remote insert of 200 loses (insert_deleted) and only
# 201..209 arrive.
stop_walapply
e2e_psql -c "INSERT INTO bin_vals (id, t) SELECT g, 'remote ' || g FROM generate_series(200, 209) g"
e2e_psql_db replay -c "INSERT INTO bin_vals (id, t) VALUES (200, 'local')"
e2e_psql_db replay -c "DELETE FROM bin_vals WHERE id = 200"
start_walapply
wait_applied
[ "$(e2e_psql_db replay -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM bin_vals WHERE id >= 200")" = \
	"201,202,203,204,205,206,207,208,209" ] ||
	fail "rows 200..209 on the target: $(e2e_psql_db replay -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM bin_vals WHERE id >= 200")"
[ "$(e2e_psql_db replay -c "SELECT conflict_type || ' ' || resolution FROM wal2proto.conflicts WHERE id > 1 ORDER BY id")" = \
	"insert_deleted keep_local" ] ||
	fail "the insert_deleted conflict is not logged as expected: $(e2e_psql_db replay -c "SELECT * FROM wal2proto.conflicts")"

# Conflicts met by transactions sent ahead of their results (a table without
# tombstones): one run of inserts (COPY) and a transaction of two tables (a
# pipeline of INSERTs), each meeting a row written on the target; both fail
# at the target and are applied again row by row.
e2e_psql_db replay -c "INSERT INTO plain VALUES (5, 'local'), (20, 'local')"
e2e_psql -c "INSERT INTO plain SELECT g, 'remote' FROM generate_series(1, 10) g"
e2e_psql -c "BEGIN; INSERT INTO plain VALUES (20, 'remote'); INSERT INTO keyless VALUES (9, 'z'); COMMIT"
wait_applied
# (bin_vals differs on purpose: row 200 lost to the tombstone above)
[ "$(e2e_digest postgres | grep -E '^(plain|keyless) ')" = "$(e2e_digest replay | grep -E '^(plain|keyless) ')" ] ||
	fail "plain or keyless differ: $(e2e_psql_db replay -c "SELECT * FROM plain ORDER BY id")"
[ "$(e2e_psql_db replay -c "SELECT string_agg(conflict_type || ' ' || resolution || ' ' || (local_row->>'id') || ' ' || (remote_row->>'t'), ',' ORDER BY id) FROM wal2proto.conflicts WHERE relation = 'public.plain'")" = \
	"insert_exists apply_remote 5 remote,insert_exists apply_remote 20 remote" ] ||
	fail "the conflicts of the plain table are not logged as expected: $(e2e_psql_db replay -c "SELECT * FROM wal2proto.conflicts WHERE relation = 'public.plain'")"

# Transactions of more inserts than one COPY statement takes (COPYs of at
# most 250 rows): one that meets nothing (five COPYs), and one that meets a
# row written on the target in its third COPY (rows 2481..2720 of
# 2001..3200); the whole transaction is applied again.
# They wait as a backlog, so that the transaction right behind (a run of
# 100 inserts) is sent before the failure comes back: it then does not run,
# and is applied row by row after the failed one.
stop_walapply
e2e_psql -c "INSERT INTO bulk SELECT g, 'remote ' || g FROM generate_series(1, 1200) g"
e2e_psql_db replay -c "INSERT INTO bulk VALUES (2700, 'local')"
e2e_psql -c "INSERT INTO bulk SELECT g, 'remote ' || g FROM generate_series(2001, 3200) g"
e2e_psql -c "INSERT INTO bulk SELECT g, 'remote ' || g FROM generate_series(4001, 4100) g"
start_walapply
wait_applied
[ "$(e2e_digest postgres | grep -E '^bulk ')" = "$(e2e_digest replay | grep -E '^bulk ')" ] ||
	fail "bulk differs: $(e2e_psql_db replay -c "SELECT count(*), min(id), max(id) FROM bulk")"
[ "$(e2e_psql_db replay -c "SELECT count(*) FROM bulk")" = 2500 ] ||
	fail "bulk holds $(e2e_psql_db replay -c "SELECT count(*) FROM bulk") rows, not 2500"
[ "$(e2e_psql_db replay -c "SELECT string_agg(conflict_type || ' ' || resolution || ' ' || (local_row->>'t') || ' ' || (remote_row->>'t'), ',') FROM wal2proto.conflicts WHERE relation = 'public.bulk'")" = \
	"insert_exists apply_remote local remote 2700" ] ||
	fail "the conflict of the bulk table is not logged as expected: $(e2e_psql_db replay -c "SELECT * FROM wal2proto.conflicts WHERE relation = 'public.bulk'")"

# Transactions sent ahead in pipeline mode behind one that fails: a row the
# target updated itself (update_origin_differs: the fast statement changes
# no row), then two more transactions, all in the backlog.  Sent ahead
# (pipeline=on), the later ones fail too (the session's transaction is
# aborted until walapply rolls it back); all three are applied again in
# order.  The remote update is later than the local one, so it wins.
e2e_psql -c "INSERT INTO dfr VALUES (1, 1), (2, 2)"
wait_applied
stop_walapply
e2e_psql_db replay -c "UPDATE dfr SET v = 10 WHERE id = 1"
e2e_psql -c "UPDATE dfr SET v = 11 WHERE id = 1"
e2e_psql -c "UPDATE dfr SET v = 22 WHERE id = 2"
e2e_psql -c "INSERT INTO dfr VALUES (3, 3)"
start_walapply
wait_applied
[ "$(e2e_psql_db replay -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM dfr")" = "1:11,2:22,3:3" ] ||
	fail "dfr on the target: $(e2e_psql_db replay -c "SELECT * FROM dfr ORDER BY id")"
[ "$(e2e_psql_db replay -c "SELECT string_agg(conflict_type || ' ' || resolution || ' ' || (local_row->>'v') || ' ' || (remote_row->>'v'), ',' ORDER BY id) FROM wal2proto.conflicts WHERE relation = 'public.dfr'")" = \
	"update_origin_differs apply_remote 10 11" ] ||
	fail "the conflict of the dfr table is not logged as expected: $(e2e_psql_db replay -c "SELECT * FROM wal2proto.conflicts WHERE relation = 'public.dfr'")"
stop_walapply

# Which path each transaction took (the counters walapply prints when it
# stops, for each of its three runs).
#  pipeline=off: every insert run by COPY (vals, bin_vals, nums, keyless: 64
#  rows) but those meeting a tombstone or a local row; the runs meeting a
#  local row (bin_vals 100.., plain 1..10, bulk 2001..3200) applied again
#  without COPY.
#  pipeline=on: first run: the vals inserts (one run: COPY, 16 rows), the
#  bin_vals/nums/keyless inserts, the bin_vals updates, the bin_vals/nums
#  deletes and three markers are sent ahead (7); the vals/keyless updates
#  and deletes (arrays, whole-row matching) are not; the bin_vals 100.. run
#  finds tombstones in its table (guard) and goes row by row.  Second run:
#  the tombstone-meeting run likewise; the plain COPY run and the plain +
#  keyless pipeline are sent ahead and applied again row by row, with two
#  markers (4 sent ahead, 2 applied again).  Third run: the three bulk
#  transactions and a marker are sent ahead; the second is applied
#  again without COPY, and the third, sent before the second failed, did
#  not run and is applied row by row (2 applied again; its 100 rows go by
#  COPY then); the dfr inserts and a marker go ahead too (6 sent ahead).
#  Fourth run: the three dfr transactions and a marker are sent ahead; the
#  first fails and the two behind it do not commit (3 applied again row by
#  row, 2 of them behind a failure).
#  Whether a transaction was sent behind one that failed depends on whether
#  walapply had read the failure before it had the next one: so each line
#  is compared with the count of those sent behind left out ("F failed"
#  counts the others), and that count must be at most what the backlog
#  allows (1 in the third run, 2 in the fourth).
if [ "$PIPELINE" = off ]; then
	want="(0 pipelined, 0 failed), * changes (64 inserts by COPY, 1 transactions applied again without COPY)
(0 pipelined, 0 failed), * changes (0 inserts by COPY, 1 transactions applied again without COPY)
(0 pipelined, 0 failed), * changes (1300 inserts by COPY, 1 transactions applied again without COPY)
(0 pipelined, 0 failed), * changes (0 inserts by COPY, 0 transactions applied again without COPY)"
	behind_max="0 0 0 0"
else
	want="(7 pipelined, 0 failed), * changes (16 inserts by COPY, 1 transactions applied again without COPY)
(4 pipelined, 2 failed), * changes (0 inserts by COPY, 1 transactions applied again without COPY)
(6 pipelined, 1 failed), * changes (1300 inserts by COPY, 1 transactions applied again without COPY)
(4 pipelined, 1 failed), * changes (0 inserts by COPY, 0 transactions applied again without COPY)"
	behind_max="0 0 1 2"
fi
got=$(grep -o "([0-9]* pipelined, .* transactions applied again without COPY)" "$E2E_WORK/walapply.log" |
	sed 's/failed), [0-9]* changes/failed), * changes/')
read -r -a max <<<"$behind_max"
canon=
line_no=0
while IFS= read -r line; do
	again=$(sed -n 's/.* \([0-9]*\) of them applied again row by row.*/\1/p' <<<"$line")
	behind=$(sed -n 's/.* \([0-9]*\) of those sent behind one that failed.*/\1/p' <<<"$line")
	[ -n "$again" ] && [ -n "$behind" ] || fail "unreadable counters: $line"
	[ "$behind" -le "${max[$line_no]:-0}" ] ||
		fail "run $((line_no + 1)): $behind transactions sent behind a failure, at most ${max[$line_no]:-0} expected: $line"
	canon+="$(sed "s/$again of them applied again row by row, $behind of those sent behind one that failed/$((again - behind)) failed/" <<<"$line")"$'\n'
	line_no=$((line_no + 1))
done <<<"$got"
[ "${canon%$'\n'}" = "$want" ] || fail "unexpected paths: got
$got
expected (with the count of those sent behind a failure left out)
$want"
# A table whose unique key is deferrable on the target: PostgreSQL checks
# such a key with a trigger that does not fire in the apply session, so the
# link refuses it, naming the constraint, instead of letting a duplicate in.
e2e_psql_db replay -c "ALTER TABLE dfr_late ADD CONSTRAINT dfr_late_v UNIQUE (v) DEFERRABLE"
e2e_psql_db replay -c "INSERT INTO dfr_late VALUES (100, 7)"
e2e_psql -c "INSERT INTO dfr_late VALUES (1, 7)"
"$WALAPPLY" -d "$CONN" -S copy --start -o origin=none -v --target "$TARGET" \
	2>"$E2E_WORK/deferrable.log" && fail "walapply applied a table with a deferrable unique key"
grep -q 'table "public.dfr_late" has the deferrable constraint "dfr_late_v" on the target' "$E2E_WORK/deferrable.log" ||
	fail "walapply did not name the deferrable constraint: $(tail -3 "$E2E_WORK/deferrable.log")"
[ "$(e2e_psql_db replay -c "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM dfr_late")" = "100:7" ] ||
	fail "dfr_late on the target: $(e2e_psql_db replay -c "SELECT * FROM dfr_late ORDER BY id")"
echo "e2e_peer_copy: OK"
