#!/usr/bin/env bash
# e2e_mongo_crash.sh
#    Exactly once into MongoDB across crashes, with three targets at once.
#    A workload of about 100,000 changes (1,000 transactions of 101
#    changes: inserts, updates, deletes, over a table with a composite key
#    too) runs while walapply -- writing to MongoDB, a .jsonl file and a
#    peer master (a postgresql:// target: database "replay") -- is killed
#    with SIGKILL 10 times at random moments and restarted each time, and
#    while the MongoDB server is restarted once mid-stream (walapply must
#    wait, reconnect and go on).  Afterwards every MongoDB document equals
#    its source row, nothing missing or extra; the peer's tables equal the
#    source's; the .jsonl file holds every transaction exactly once and
#    rebuilds the source's rows.
#
#    usage: e2e_mongo_crash.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_lib.sh"
source "$(dirname "$0")/e2e_mongo_lib.sh"

e2e_start 55461
mongo_start 55471 public walapply
SCHEMA="CREATE TABLE acc (id int PRIMARY KEY, v int, t text, ts timestamptz);
        CREATE TABLE pair (a int, b text, n numeric, PRIMARY KEY (a, b));
        CREATE TABLE txlog (id int PRIMARY KEY);
        CREATE TABLE marker (id int PRIMARY KEY);"
e2e_psql -c "$SCHEMA"
e2e_psql_db replay -c "$SCHEMA"
"$WALAPPLY" -d "$CONN" -S mcrash --create-slot

JSONL=$E2E_WORK/out.jsonl
RANDOM=5151

workload()
{
	local chunk k file
	for chunk in $(seq 0 19); do
		file=$E2E_WORK/chunk$chunk.sql
		for k in $(seq $((chunk * 50)) $((chunk * 50 + 49))); do
			echo "BEGIN;
INSERT INTO txlog VALUES ($k);
INSERT INTO acc SELECT g, 0, md5(g::text), now() FROM generate_series($k * 100, $k * 100 + 49) g;
INSERT INTO pair SELECT $k, g::text, g / 7.0 FROM generate_series(1, 10) g;
UPDATE acc SET v = v + $k, ts = ts + interval '1.000001 s' WHERE id BETWEEN $k * 100 AND $k * 100 + 19;
UPDATE pair SET b = b || 'x', n = n * 2 WHERE a = $k AND b IN ('1', '2', '3', '4', '5');
UPDATE acc SET t = NULL WHERE id BETWEEN $k * 100 + 20 AND $k * 100 + 24;
DELETE FROM acc WHERE id BETWEEN $k * 100 + 30 AND $k * 100 + 39;
COMMIT;"
		done >"$file"
		e2e_psql -f "$file" >/dev/null
		sleep 0.5
	done
	e2e_psql -c "INSERT INTO marker VALUES (1)"
	echo "e2e: workload done"
}

start_walapply()
{
	"$WALAPPLY" -d "$CONN" -S mcrash --start -s 1 -v \
		--target "${MURI}?slot=mcrash&retryTimeout=60" --target "file:$JSONL" \
		--target "postgresql://127.0.0.1:$PGCLUSTER_PORT/replay?user=postgres&source=src&node=peer" \
		2>>"$E2E_WORK/walapply.log" &
	WPID=$!
	E2E_PIDS+=("$WPID")
}

marker_in_mongo()
{
	mongo_eval 'sys.exit(0 if client.public.marker.count_documents({}) == 1 else 1)' 2>/dev/null
}

workload &
LOADPID=$!
E2E_PIDS+=("$LOADPID")

start_walapply
kills=0
restarted=0
while [ $kills -lt 10 ]; do
	sleep "0.$((RANDOM % 8 + 2))"
	kill -0 "$WPID" 2>/dev/null || { tail -n 5 "$E2E_WORK/walapply.log" >&2; fail "walapply stopped by itself"; }
	if [ $kills = 5 ] && [ $restarted = 0 ]; then
		# MongoDB goes away under a running walapply for two seconds.
		echo "e2e: restarting the MongoDB server"
		mongo_restart 2
		restarted=1
		sleep 1
		kill -0 "$WPID" 2>/dev/null || { tail -n 5 "$E2E_WORK/walapply.log" >&2; fail "walapply did not survive the MongoDB restart"; }
	fi
	kill -9 "$WPID"
	wait "$WPID" 2>/dev/null || true
	kills=$((kills + 1))
	echo "e2e: kill -9 number $kills of walapply"
	start_walapply
done

wait "$LOADPID" || fail "the workload failed"
for _ in $(seq 1 300); do
	marker_in_mongo && break
	kill -0 "$WPID" 2>/dev/null || { tail -n 5 "$E2E_WORK/walapply.log" >&2; fail "walapply stopped"; }
	sleep 0.5
done
marker_in_mongo || fail "walapply did not catch up"
kill -TERM "$WPID"
wait "$WPID" || fail "walapply did not stop cleanly after SIGTERM"

if [ "$MONGO_OWN" = 1 ]; then
	grep -q "retrying" "$E2E_WORK/walapply.log" || fail "walapply never had to wait for MongoDB"
	echo "e2e: MongoDB retries logged: $(grep -c 'retrying' "$E2E_WORK/walapply.log")"
fi
txns=$(e2e_psql -c "SELECT count(*) FROM txlog")
[ "$txns" = 1000 ] || fail "the source holds $txns workload transactions, not 1000"
mongo_compare --database public
e2e_check_once "$JSONL"
e2e_compare replay
# public.acc rebuilt from the .jsonl file (id, v, t) equals the source.
python3 "$E2E_HERE/file_check.py" jsonl-table "$JSONL" acc id |
	python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(json.dumps({"id": r["id"], "t": r["t"], "v": r["v"]}, sort_keys=True))' >"$E2E_WORK/acc.jsonl-rows"
e2e_psql -c "SELECT json_build_object('id', id, 't', t, 'v', v) FROM acc ORDER BY id" |
	python3 -c '
import json, sys
for line in sys.stdin:
    print(json.dumps(json.loads(line), sort_keys=True))' >"$E2E_WORK/acc.source-rows"
diff -q "$E2E_WORK/acc.source-rows" "$E2E_WORK/acc.jsonl-rows" >/dev/null ||
	fail "public.acc rebuilt from the .jsonl file differs from the source"
echo "e2e: .jsonl rebuilds public.acc ($(wc -l <"$E2E_WORK/acc.source-rows") rows) exactly"
mongo_stop
echo "e2e_mongo_crash: OK ($kills kills, 1 MongoDB restart, $(e2e_psql -c 'SELECT count(*) FROM acc') rows in acc)"
