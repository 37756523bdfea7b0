#!/usr/bin/env bash
# e2e_crash.sh
#    Exactly once across crashes: a workload of about 100,000 changes
#    (1,000 transactions of 101 changes) runs while walapply is killed with
#    SIGKILL 10 times at random moments and restarted each time, and while
#    the source server itself is restarted twice (fast, then immediate).
#    Every transaction also inserts 400 rows in a subtransaction that rolls
#    back, which makes it large enough to be streamed (streaming=on,
#    logical_decoding_work_mem = 64kB); every seventh one is committed with
#    two-phase commit.  Afterwards the .sql file must hold every transaction
#    exactly once, in commit order, and replay to the source's exact state.
#
#    usage: e2e_crash.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_lib.sh"

e2e_start 55453 "logical_decoding_work_mem = 64kB"
SCHEMA="CREATE TABLE acc (id int PRIMARY KEY, v int, t text);
        CREATE TABLE txlog (id int PRIMARY KEY);
        CREATE TABLE marker (id int PRIMARY KEY);"
e2e_psql -c "$SCHEMA"
e2e_psql_db replay -c "$SCHEMA"
"$WALAPPLY" -d "$CONN" -S crash --create-slot --two-phase

SQL=$E2E_WORK/out.sql
RANDOM=4242

# The workload: 20 chunks of 50 transactions; the server is restarted after
# chunks 7 (fast) and 14 (immediate).  A chunk is retried until psql gets
# through it; a transaction that already committed fails on its duplicate
# key and changes nothing, so retries are harmless.
# A restart between PREPARE TRANSACTION and COMMIT PREPARED leaves the
# transaction prepared (and its rows locked): commit whatever is left.
finish_prepared()
{
	local gid
	for gid in $(e2e_psql -c "SELECT gid FROM pg_prepared_xacts" 2>/dev/null); do
		e2e_psql -c "COMMIT PREPARED '$gid'" >/dev/null 2>&1 || true
	done
}

workload()
{
	local chunk k file
	for chunk in $(seq 0 19); do
		file=$E2E_WORK/chunk$chunk.sql
		for k in $(seq $((chunk * 50)) $((chunk * 50 + 49))); do
			echo "BEGIN;
INSERT INTO txlog VALUES ($k);
INSERT INTO acc SELECT g, 0, md5(g::text) FROM generate_series($k * 100, $k * 100 + 59) g;
SAVEPOINT a;
INSERT INTO acc SELECT -g, 0, repeat('y', 300) FROM generate_series($k * 100 + 1, $k * 100 + 400) g;
ROLLBACK TO a;
UPDATE acc SET v = v + $k WHERE id BETWEEN $k * 100 AND $k * 100 + 29;
DELETE FROM acc WHERE id BETWEEN $k * 100 + 30 AND $k * 100 + 39;
$([ $((k % 7)) = 0 ] && echo "PREPARE TRANSACTION 'p$k'; COMMIT PREPARED 'p$k';" || echo "COMMIT;")"
		done >"$file"
		until e2e_psql -f "$file" >/dev/null 2>&1 || [ "$(e2e_psql -c "SELECT count(*) FROM txlog WHERE id BETWEEN $((chunk * 50)) AND $((chunk * 50 + 49))" 2>/dev/null)" = 50 ]; do
			sleep 0.2
			finish_prepared
		done
		# Whatever failed on the way (the server went away mid-chunk) is
		# completed by running the chunk again without stopping at errors.
		finish_prepared
		"$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PGCLUSTER_PORT" -U postgres -d postgres \
			-f "$file" >/dev/null 2>&1 || true
		if [ "$chunk" = 7 ] || [ "$chunk" = 14 ]; then
			local mode=fast
			[ "$chunk" = 14 ] && mode=immediate
			echo "e2e: restarting the source ($mode)"
			pgcluster_as_user "$PGBIN/pg_ctl" -D "$PGCLUSTER_DATA" -l "$PGCLUSTER_LOG" \
				-m $mode -w restart >/dev/null
		fi
		sleep 0.3
	done
	finish_prepared
	e2e_psql -c "INSERT INTO marker VALUES (1)"
	echo "e2e: workload done"
}

start_walapply()
{
	"$WALAPPLY" -d "$CONN" -S crash --start -o streaming=on -s 1 -v --target "file:$SQL" \
		2>>"$E2E_WORK/walapply.log" &
	WPID=$!
	E2E_PIDS+=("$WPID")
}

workload &
LOADPID=$!
E2E_PIDS+=("$LOADPID")

start_walapply
kills=0
while [ $kills -lt 10 ]; do
	sleep "0.$((RANDOM % 9 + 2))"
	if kill -0 "$WPID" 2>/dev/null; then
		kill -9 "$WPID"
		wait "$WPID" 2>/dev/null || true
		kills=$((kills + 1))
		echo "e2e: kill -9 number $kills of walapply"
	else
		# It stopped by itself: only acceptable when the source was down
		# at its start.
		wait "$WPID" 2>/dev/null || true
		tail -n 1 "$E2E_WORK/walapply.log" | grep -q -e 'could not connect' -e 'starting up' \
			-e 'shutting down' -e 'not yet accepting' -e 'recovery mode' ||
			fail "walapply stopped by itself: $(tail -n 1 "$E2E_WORK/walapply.log")"
		sleep 0.5
	fi
	until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGCLUSTER_PORT"; do sleep 0.2; done
	start_walapply
done

wait "$LOADPID" || fail "the workload failed"
for _ in $(seq 1 1200); do
	grep -q '^INSERT INTO "public"."marker"' "$SQL" 2>/dev/null && break
	if ! kill -0 "$WPID" 2>/dev/null; then
		until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PGCLUSTER_PORT"; do sleep 0.2; done
		start_walapply
	fi
	sleep 0.1
done
grep -q '^INSERT INTO "public"."marker"' "$SQL" || fail "walapply did not catch up"
kill -TERM "$WPID"
wait "$WPID" || fail "walapply did not stop cleanly after SIGTERM"

grep -c 'reconnecting in' "$E2E_WORK/walapply.log" | sed 's/^/e2e: reconnect attempts logged: /'
grep -q 'reconnecting in' "$E2E_WORK/walapply.log" || fail "walapply never had to reconnect"
e2e_check_once "$SQL"
txns=$(e2e_psql -c "SELECT count(*) FROM txlog")
[ "$txns" = 1000 ] || fail "the source holds $txns workload transactions, not 1000"
e2e_replay "$SQL" replay
e2e_compare replay
grep -q "gid='p7'" "$SQL" || fail "the two-phase transactions are missing"
grep -q "repeat\|'yyy" "$SQL" && fail "rows of a rolled-back subtransaction were written"
echo "e2e_crash: OK ($kills kills, 2 source restarts)"
