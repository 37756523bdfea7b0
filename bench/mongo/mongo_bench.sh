#!/usr/bin/env bash
# mongo_bench.sh
#    walapply into MongoDB against a plain libmongoc program, same server,
#    same run.
#
#    The standard workload (bench/workload.sql: ROWS inserts, then ROWS
#    updates, then ROWS deletes of bench_t, in transactions of TXN rows) is
#    decoded from a slot and applied by walapply to MongoDB; then
#    plain_bulk.cc bulk-writes the same final operations (whole-document
#    upserts, $set updates, deletes by _id, in ordered bulks of TXN) to the
#    same server with no decoding and no progress writes.  Reported: each
#    side's rate in changes per second, their ratio, and walapply's own CPU
#    time per change.
#
#    usage: bench/mongo/mongo_bench.sh [PATH_TO_WALAPPLY]
#    Environment: BENCH_ROWS (200000), BENCH_TXN (1000), BENCH_RUNS (3),
#    BENCH_PG_PORT (55462), BENCH_MONGO_PORT (55472), MONGO_URI (a real
#    MongoDB instead of tests/mongo/server.py), BENCH_RESULTS (file for the
#    Markdown table; default bench/mongo/results/mongo-<UTC date>.md, "-"
#    for none).

set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
ROWS=${BENCH_ROWS:-200000}
TXN=${BENCH_TXN:-1000}
RUNS=${BENCH_RUNS:-3}
PY=/usr/bin/python3
WALAPPLY=${1:-}
if [ -z "$WALAPPLY" ]; then
	for c in "$ROOT/build/consumer/walapply" "$ROOT/build/walapply"; do
		[ -x "$c" ] && WALAPPLY=$c && break
	done
fi
[ -x "${WALAPPLY:-}" ] || { echo "mongo_bench: give the path of a built walapply" >&2; exit 2; }

# shellcheck source=/dev/null
source "$ROOT/scripts/pgcluster.sh"
PGBIN=$(pgcluster_bindir)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mongo-bench.XXXXXX")
SERVER_PID=

cleanup()
{
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
	[ -n "${PGCLUSTER_DIR:-}" ] && pgcluster_stop >/dev/null 2>&1
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

g++ -O2 -std=c++17 -o "$WORK/plain_bulk" "$HERE/plain_bulk.cc" \
	$(pkg-config --cflags --libs libmongoc-1.0)

pgcluster_start "${BENCH_PG_PORT:-55462}" >/dev/null
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p "$PGCLUSTER_PORT" -U postgres -d postgres)
"${PSQL[@]}" -f "$ROOT/bench/setup.sql" >/dev/null

if [ -n "${MONGO_URI:-}" ]; then
	URI=$MONGO_URI
	SERVER="MongoDB at MONGO_URI"
else
	MPORT=${BENCH_MONGO_PORT:-55472}
	"$PY" "$ROOT/tests/mongo/server.py" --port "$MPORT" >"$WORK/server.log" 2>&1 &
	SERVER_PID=$!
	URI="mongodb://127.0.0.1:$MPORT/"
	SERVER="tests/mongo/server.py (Python, one process)"
	for _ in $(seq 1 50); do grep -q listening "$WORK/server.log" && break; sleep 0.1; done
fi

drop()
{
	"$PY" - "$URI" <<'PY'
import sys, pymongo
c = pymongo.MongoClient(sys.argv[1])
for db in ("public", "plain", "walapply"):
    c.drop_database(db)
PY
}

count()
{
	"$PY" - "$URI" "$1" <<'PY'
import sys, pymongo
db, coll = sys.argv[2].split(".")
print(pymongo.MongoClient(sys.argv[1])[db][coll].estimated_document_count())
PY
}

CHANGES=$((ROWS * 3))
TIMEFORMAT='%R %U %S'
printf '| run | walapply s | walapply changes/s | walapply CPU µs/change | plain s | plain ops/s | plain CPU µs/op | ratio |\n' >"$WORK/table.md"
printf '|---|---|---|---|---|---|---|---|\n' >>"$WORK/table.md"
for run in $(seq 1 "$RUNS"); do
	drop
	"$WALAPPLY" -d "$PGCLUSTER_CONNSTR" -S mbench --create-slot 2>/dev/null
	"${PSQL[@]}" -v rows="$ROWS" -v txn="$TXN" -f "$ROOT/bench/workload.sql" >/dev/null
	END=$("${PSQL[@]}" -c "SELECT pg_current_wal_lsn()")
	# walapply: decoding (the server's walsender), assembly, mapping, bulks,
	# progress writes.  bash's time gives its wall, user and system seconds.
	{ time "$WALAPPLY" -d "$PGCLUSTER_CONNSTR" -S mbench --start -E "$END" -s 10 -v \
		--target "${URI}?slot=mbench" 2>"$WORK/walapply.log"; } 2>"$WORK/w.time"
	grep -q "$CHANGES changes" "$WORK/walapply.log" ||
		{ tail -3 "$WORK/walapply.log" >&2; echo "mongo_bench: walapply did not apply $CHANGES changes" >&2; exit 1; }
	[ "$(count public.bench_t)" = 0 ] || { echo "mongo_bench: documents left after the deletes" >&2; exit 1; }
	"$WALAPPLY" -d "$PGCLUSTER_CONNSTR" -S mbench --drop-slot 2>/dev/null
	read -r wsecs wuser wsys <"$WORK/w.time"

	"$WORK/plain_bulk" "$URI" plain bench_t "$ROWS" "$TXN" >"$WORK/plain.out"
	psecs=$(awk '$1 != "cpu" { s += $2 } END { printf "%.3f", s }' "$WORK/plain.out")
	pcpu=$(awk '$1 == "cpu" { print $2 }' "$WORK/plain.out")
	awk -v run="$run" -v ws="$wsecs" -v wu="$wuser" -v wy="$wsys" -v ps="$psecs" -v pc="$pcpu" -v n="$CHANGES" 'BEGIN {
		printf "| %d | %.1f | %.0f | %.1f | %.1f | %.0f | %.1f | %.2f |\n", run, ws, n / ws,
		       (wu + wy) * 1e6 / n, ps, n / ps, pc * 1e6 / n, (n / ws) / (n / ps) }' >>"$WORK/table.md"
	sed 's/^/mongo_bench: /' "$WORK/plain.out" >&2
	tail -n 1 "$WORK/table.md"
done

{
	echo "# walapply into MongoDB vs plain libmongoc bulks"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg);"
	echo "server: $SERVER; workload: $ROWS inserts, $ROWS updates, $ROWS deletes in transactions of $TXN rows ($CHANGES changes)."
	echo
	cat "$WORK/table.md"
} >"$WORK/report.md"
cat "$WORK/report.md"
RESULTS=${BENCH_RESULTS:-$HERE/results/mongo-$(date -u +%Y%m%d-%H%M).md}
if [ "$RESULTS" != "-" ]; then
	mkdir -p "$(dirname "$RESULTS")"
	cp "$WORK/report.md" "$RESULTS"
fi
