#!/usr/bin/env bash
# e2e_cli.sh
#    walapply's command line and slot handling against a real cluster:
#    --help, errors that name the flag and value, exit codes, slot
#    creation/drop, a YAML config file, PG* environment variables, --endpos,
#    SIGHUP reopening the file, and the refusal of a slot that was dropped
#    and recreated behind the target's back.
#
#    usage: e2e_cli.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_lib.sh"

# expect_fail CODE PATTERN CMD...: CMD exits with CODE and prints exactly
# one line on stderr, matching PATTERN.
expect_fail()
{
	local code=$1 pattern=$2 rc=0
	shift 2
	"$@" >"$E2E_WORK/out" 2>"$E2E_WORK/err.all" || rc=$?
	# libmongoc (linked for the MongoDB target) may warn about its shared
	# memory counters at start-up; that line is not walapply's.
	grep -v 'mongoc: Falling back to malloc for counters' "$E2E_WORK/err.all" >"$E2E_WORK/err" || true
	[ "$rc" = "$code" ] || fail "$* exited with $rc, expected $code: $(cat "$E2E_WORK/err")"
	[ "$(wc -l <"$E2E_WORK/err")" = 1 ] || fail "$* printed more than one line: $(cat "$E2E_WORK/err")"
	grep -q -e "$pattern" "$E2E_WORK/err" || fail "$*: message lacks '$pattern': $(cat "$E2E_WORK/err")"
}

# --help lists every flag.
"$WALAPPLY" --help >"$E2E_WORK/help"
for flag in --config --dbname --slot --plugin --create-slot --if-not-exists --two-phase \
	--temporary-slot --export-snapshot --drop-slot --start --option --startpos --endpos \
	--fsync-interval --status-interval --target --spill-dir --txn-memory-mb --no-loop \
	--verbose --help --version; do
	grep -q -e "$flag" "$E2E_WORK/help" || fail "--help does not list $flag"
done

# Usage errors: exit 2, one line naming the flag and the value.
expect_fail 2 '--bogus' "$WALAPPLY" -S s --start --target file:x.sql --bogus
expect_fail 2 'invalid value "zz/1" for --startpos' "$WALAPPLY" -S s --start --target file:x.sql --startpos zz/1
expect_fail 2 'invalid value "1/2/3" for --endpos' "$WALAPPLY" -S s --start --target file:x.sql -E 1/2/3
expect_fail 2 'invalid value "fast" for --status-interval' "$WALAPPLY" -S s --start --target file:x.sql -s fast
expect_fail 2 'invalid value "streaming" for --option' "$WALAPPLY" -S s --start --target file:x.sql -o streaming
expect_fail 2 'at least one action' "$WALAPPLY" -S s
expect_fail 2 'no slot' "$WALAPPLY" --start --target file:x.sql
expect_fail 2 '--start needs at least one --target' "$WALAPPLY" -S s --start
echo "e2e: usage errors OK"

e2e_start 55451
e2e_psql -c "CREATE TABLE t (id int PRIMARY KEY, v text)"

# Bad target URIs are refused before the source is touched.
expect_fail 1 'invalid --target "ftp://x"' "$WALAPPLY" -d "$CONN" -S s --start --target ftp://x
expect_fail 1 'invalid --target "file:out.txt"' "$WALAPPLY" -d "$CONN" -S s --start --target file:out.txt
# Connection failures and missing slots: exit 1, one line.
expect_fail 1 'could not connect' "$WALAPPLY" -d "host=127.0.0.1 port=1 user=postgres dbname=postgres" -S s --create-slot
expect_fail 1 'replication slot "nope" does not exist' \
	"$WALAPPLY" -d "$CONN" -S nope --start --target "file:$E2E_WORK/nope.sql"

# Slots.
"$WALAPPLY" -d "$CONN" -S s1 --create-slot
expect_fail 1 'already exists' "$WALAPPLY" -d "$CONN" -S s1 --create-slot
"$WALAPPLY" -d "$CONN" -S s1 --create-slot --if-not-exists
[ "$(e2e_psql -c "SELECT plugin FROM pg_replication_slots WHERE slot_name = 's1'")" = wal2proto ] ||
	fail "slot s1 is not a wal2proto slot"
"$WALAPPLY" -d "$CONN" -S s1 --drop-slot
[ "$(e2e_psql -c "SELECT count(*) FROM pg_replication_slots")" = 0 ] || fail "slot s1 was not dropped"

# A YAML config file and PG* variables instead of -d; --endpos stops with 0.
"$WALAPPLY" -d "$CONN" -S s2 --create-slot
e2e_psql -c "INSERT INTO t VALUES (1, 'one')" -c "INSERT INTO t VALUES (2, 'two')"
endpos=$(e2e_wal_lsn)
e2e_psql -c "INSERT INTO t VALUES (3, 'after endpos')"
cat >"$E2E_WORK/w.yaml" <<YAML
slot: s2
start: true
endpos: "$endpos"
status-interval: 1
option:
  include-xids: "on"
target:
  - file:$E2E_WORK/a.jsonl
YAML
PGHOST=127.0.0.1 PGPORT=$PGCLUSTER_PORT PGUSER=postgres PGDATABASE=postgres \
	"$WALAPPLY" -c "$E2E_WORK/w.yaml" || fail "walapply with a config file failed"
[ "$(grep -c '"kind":"insert"' "$E2E_WORK/a.jsonl")" = 2 ] || fail "--endpos did not stop after two transactions"
grep -q 'after endpos' "$E2E_WORK/a.jsonl" && fail "a transaction past --endpos was written"
echo "e2e: config file, PG* variables and --endpos OK"

# A second run resumes after what the file holds.
endpos=$(e2e_wal_lsn)
"$WALAPPLY" -d "$CONN" -S s2 --start -E "$endpos" --target "file:$E2E_WORK/a.jsonl"
python3 "$E2E_HERE/file_check.py" once "$E2E_WORK/a.jsonl"
[ "$(grep -c '"kind":"insert"' "$E2E_WORK/a.jsonl")" = 3 ] || fail "the resumed run did not add exactly one transaction"

# SIGHUP reopens the file: rotate it away, the next transaction goes to a
# new file with its own header.
"$WALAPPLY" -d "$CONN" -S s2 --start -s 1 --target "file:$E2E_WORK/r.sql" 2>"$E2E_WORK/r.log" &
WPID=$!
E2E_PIDS+=("$WPID")
e2e_psql -c "INSERT INTO t VALUES (4, 'before rotation')"
for _ in $(seq 1 100); do grep -q "before rotation" "$E2E_WORK/r.sql" 2>/dev/null && break; sleep 0.1; done
mv "$E2E_WORK/r.sql" "$E2E_WORK/r.sql.1"
kill -HUP "$WPID"
sleep 0.5
e2e_psql -c "INSERT INTO t VALUES (5, 'after rotation')"
for _ in $(seq 1 100); do grep -q "after rotation" "$E2E_WORK/r.sql" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$WPID"
wait "$WPID" || fail "walapply did not exit 0 on SIGTERM"
grep -q "before rotation" "$E2E_WORK/r.sql.1" || fail "the rotated file lost its transaction"
grep -q "after rotation" "$E2E_WORK/r.sql" || fail "SIGHUP did not reopen the file"
head -n 1 "$E2E_WORK/r.sql" | grep -q '^-- wal2proto change stream' || fail "the reopened file has no header"
echo "e2e: SIGHUP rotation and SIGTERM OK"

# An idle stream (WAL only for a filtered-out table) records its position
# in the file so the slot moves on; after a restart nothing is written twice.
e2e_psql -c "CREATE TABLE noise (id int, pad text)"
"$WALAPPLY" -d "$CONN" -S idle --create-slot
start_lsn=$(e2e_wal_lsn)
"$WALAPPLY" -d "$CONN" -S idle --start -s 1 -o exclude-tables=public.noise \
	--target "file:$E2E_WORK/idle.sql" 2>"$E2E_WORK/idle.log" &
WPID=$!
E2E_PIDS+=("$WPID")
e2e_psql -c "INSERT INTO t VALUES (8, 'before noise')"
e2e_psql -c "INSERT INTO noise SELECT g, repeat('x', 500) FROM generate_series(1, 20000) g"
noise_end=$(e2e_wal_lsn)
for _ in $(seq 1 150); do
	grep -q '^-- wal2proto position lsn=' "$E2E_WORK/idle.sql" 2>/dev/null && break
	sleep 0.1
done
grep -q '^-- wal2proto position lsn=' "$E2E_WORK/idle.sql" || fail "an idle stream recorded no position"
for _ in $(seq 1 50); do
	[ "$(e2e_psql -c "SELECT confirmed_flush_lsn > '$start_lsn'::pg_lsn + 1048576 FROM pg_replication_slots WHERE slot_name = 'idle'")" = t ] && break
	sleep 0.1
done
[ "$(e2e_psql -c "SELECT confirmed_flush_lsn > '$start_lsn'::pg_lsn + 1048576 FROM pg_replication_slots WHERE slot_name = 'idle'")" = t ] ||
	fail "the slot did not move past the filtered-out WAL"
kill -9 "$WPID"
wait "$WPID" 2>/dev/null || true
e2e_psql -c "INSERT INTO t VALUES (9, 'after noise')"
endpos=$(e2e_wal_lsn)
"$WALAPPLY" -d "$CONN" -S idle --start -E "$endpos" -o exclude-tables=public.noise \
	--target "file:$E2E_WORK/idle.sql"
python3 "$E2E_HERE/file_check.py" once "$E2E_WORK/idle.sql"
[ "$(grep -c "before noise" "$E2E_WORK/idle.sql")" = 1 ] || fail "a transaction before the position was written twice"
[ "$(grep -c "after noise" "$E2E_WORK/idle.sql")" = 1 ] || fail "the transaction after the position is missing"
grep -q noise "$E2E_WORK/idle.sql" && grep -q 'INSERT INTO "public"."noise"' "$E2E_WORK/idle.sql" &&
	fail "the filtered-out table reached the file"
echo "e2e: idle position records OK"

# A temporary slot lives as long as its connection: create it and stream
# through it in one run; it is gone once walapply stops.
"$WALAPPLY" -d "$CONN" -S tmp1 --create-slot --temporary-slot --start -s 1 \
	--target "file:$E2E_WORK/tmp.sql" 2>"$E2E_WORK/tmp.log" &
WPID=$!
E2E_PIDS+=("$WPID")
for _ in $(seq 1 100); do
	[ "$(e2e_psql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tmp1'")" = 1 ] && break
	sleep 0.1
done
e2e_psql -c "INSERT INTO t VALUES (7, 'temporary')"
for _ in $(seq 1 100); do grep -q "'temporary'" "$E2E_WORK/tmp.sql" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$WPID"
wait "$WPID" || fail "walapply on a temporary slot did not exit 0"
grep -q "'temporary'" "$E2E_WORK/tmp.sql" || fail "nothing came through the temporary slot"
[ "$(e2e_psql -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'tmp1'")" = 0 ] ||
	fail "the temporary slot outlived walapply"
echo "e2e: temporary slot OK"

# A slot dropped and recreated behind the file's back is refused.
"$WALAPPLY" -d "$CONN" -S s2 --drop-slot
"$WALAPPLY" -d "$CONN" -S s2 --create-slot
e2e_psql -c "INSERT INTO t VALUES (6, 'lost to the old slot')"
sleep 0.2
e2e_psql -c "SELECT pg_replication_slot_advance('s2', pg_current_wal_lsn())" >/dev/null
expect_fail 1 'recreated or advanced by another consumer' \
	"$WALAPPLY" -d "$CONN" -S s2 --start --target "file:$E2E_WORK/a.jsonl"
echo "e2e_cli: OK"
