#!/usr/bin/env bash
# walapply_bench.sh
#    End-to-end benchmark of the consumer: walapply streaming the decoding
#    benchmark's workload (bench/workload.sql: inserts, updates, deletes of
#    bench_t in transactions of 1,000 rows) into a .jsonl file, against
#    pg_recvlogical with wal2json (format-version 2) into a file, in the same
#    run on the same WAL.  Each measurement streams from a fresh copy of an
#    untouched slot to the end of the workload; the median of the runs is
#    reported.  Not a test: tests don't time things.
#
#    usage: consumer/bench/walapply_bench.sh PATH_TO_WALAPPLY
#    environment: WBENCH_PORT (55455), WBENCH_ROWS (200000), WBENCH_RUNS (3)

set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WALAPPLY=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
PORT=${WBENCH_PORT:-55455}
ROWS=${WBENCH_ROWS:-200000}
RUNS=${WBENCH_RUNS:-3}
# shellcheck source=/dev/null
source "$ROOT/scripts/pgcluster.sh"
BIN=$(pgcluster_bindir)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/walapply-bench.XXXXXX")
chmod 777 "$WORK"
trap 'pgcluster_stop >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

pgcluster_start "$PORT" >/dev/null
CONN=$PGCLUSTER_CONNSTR
sql() { "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"; }

sql -f "$ROOT/bench/setup.sql" >/dev/null
sql -c "SELECT pg_create_logical_replication_slot('b_w2p', 'wal2proto')" >/dev/null
sql -c "SELECT pg_create_logical_replication_slot('b_wj', 'wal2json')" >/dev/null
sql -v rows="$ROWS" -v txn=1000 -f "$ROOT/bench/workload.sql" >/dev/null
END_LSN=$(sql -c "SELECT pg_current_wal_lsn()")
CHANGES=$((ROWS * 3))

now() { date +%s.%N; }

run_walapply()
{
	sql -c "SELECT pg_copy_logical_replication_slot('b_w2p', 'b_run')" >/dev/null
	rm -f "$WORK/out.jsonl"
	local t0 t1
	t0=$(now)
	"$WALAPPLY" -d "$CONN" -S b_run --start -E "$END_LSN" -n --target "file:$WORK/out.jsonl"
	t1=$(now)
	sql -c "SELECT pg_drop_replication_slot('b_run')" >/dev/null
	echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}'
}

run_wal2json()
{
	sql -c "SELECT pg_copy_logical_replication_slot('b_wj', 'b_run')" >/dev/null
	rm -f "$WORK/out.json"
	local t0 t1
	t0=$(now)
	"$BIN/pg_recvlogical" -d "$CONN" -S b_run --start --endpos="$END_LSN" --no-loop \
		-o format-version=2 -f "$WORK/out.json"
	t1=$(now)
	sql -c "SELECT pg_drop_replication_slot('b_run')" >/dev/null
	echo "$t0 $t1" | awk '{printf "%.3f\n", $2 - $1}'
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

: >"$WORK/w.times"
: >"$WORK/j.times"
for _ in $(seq 1 "$RUNS"); do
	run_walapply >>"$WORK/w.times"
	run_wal2json >>"$WORK/j.times"
done
w=$(median <"$WORK/w.times")
j=$(median <"$WORK/j.times")
wbytes=$(stat -c %s "$WORK/out.jsonl")
jbytes=$(stat -c %s "$WORK/out.json")
echo "| consumer | seconds (median of $RUNS) | changes/s | output bytes |"
echo "|---|---|---|---|"
echo "| walapply → .jsonl (wal2proto) | $w | $(awk -v c=$CHANGES -v t="$w" 'BEGIN {printf "%d", c / t}') | $wbytes |"
echo "| pg_recvlogical + wal2json format 2 | $j | $(awk -v c=$CHANGES -v t="$j" 'BEGIN {printf "%d", c / t}') | $jbytes |"
echo
echo "$CHANGES changes in $((ROWS * 3 / 1000)) transactions; walapply is $(awk -v a="$j" -v b="$w" 'BEGIN {printf "%.2f", a / b}')x as fast end to end"
