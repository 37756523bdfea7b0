#!/usr/bin/env bash
# peer_bench.sh
#    Catch-up benchmark of three ways to replicate one PostgreSQL database
#    into another: walapply (wal2proto + its postgresql:// peer target),
#    native logical replication (pgoutput + CREATE SUBSCRIPTION) and
#    pglogical.
#
#    One source cluster takes the whole workload as a backlog while every
#    method's slot already exists, so all three read the same WAL.  Then each
#    method in turn is started against its own fresh target cluster and timed
#    until the target holds the marker row written after each phase:
#      phase 1: bench/workload.sql on bench_t (N inserts, N updates, N
#               deletes in transactions of TXN rows), then marker -1;
#      phase 2: N inserts into bench_i in transactions of TXN rows, then
#               marker -2.
#    Changes are applied in commit order, so the marker's arrival means the
#    phase before it is applied.  Prints a Markdown table and writes it to
#    bench/peer/results-DATE.md.
#
#    usage: bench/peer/peer_bench.sh [WALAPPLY]
#    Environment: ROWS (default 200000), TXN (default 1000), BASE_PORT
#    (default 55500; ports BASE_PORT..BASE_PORT+4 are used), PG_CONFIG.
#
#    walapply runs twice, each time with its own slot and target (over TCP,
#    127.0.0.1, as every other connection here): as a link of any mesh
#    (walapply: every delete it applies leaves a tombstone) and as the link
#    of a two-node topology (walapply_pair: applied_tombstones=off, what
#    `walapply init/run` set for two nodes, where a delete a link applies
#    can never meet an older change from a third node).

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WALAPPLY=${1:-$ROOT/build/consumer/walapply}
ROWS=${ROWS:-200000}
TXN=${TXN:-1000}
BASE_PORT=${BASE_PORT:-55500}
LIMIT=${LIMIT:-150}		# seconds one method may take to catch up

# shellcheck source=/dev/null
source "$ROOT/scripts/pgcluster.sh"
PGBIN=$(pgcluster_bindir)

if [ ! -x "$WALAPPLY" ]; then
	cmake --build "$ROOT/build" --target walapply >/dev/null
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/peer-bench.XXXXXX")
declare -A DIR PORT
WALAPPLY_PID=

cleanup()
{
	local rc=$? k
	[ -n "$WALAPPLY_PID" ] && kill -9 "$WALAPPLY_PID" 2>/dev/null || true
	for k in "${!DIR[@]}"; do
		pgcluster_stop "${DIR[$k]}" >/dev/null 2>&1 || true
	done
	if [ $rc -eq 0 ]; then
		rm -rf "$WORK"
	else
		echo "peer_bench: failed (rc $rc); logs kept in $WORK" >&2
	fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

PRELOAD="shared_preload_libraries = 'pglogical'"

# shellcheck source=clusters.sh
source "$HERE/clusters.sh"

# Schema on every cluster: bench_t and its publication from bench/setup.sql,
# and bench_i (same columns) for the insert-only phase.
schema()
{
	q "$1" -f "$ROOT/bench/setup.sql"
	q "$1" -c "CREATE TABLE bench_i (LIKE bench_t INCLUDING ALL);
	           ALTER PUBLICATION bench_pub ADD TABLE bench_i;"
	# The clock when bench_t row MARKER shows up (a fresh snapshot each
	# look: the function is volatile), or NULL after LIMIT_S seconds.
	q "$1" <<'SQL'
CREATE FUNCTION bench_wait_marker(marker bigint, limit_s float8)
RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    deadline timestamptz := clock_timestamp() + limit_s * interval '1 second';
BEGIN
    LOOP
        IF (SELECT 1 FROM bench_t WHERE id = marker) IS NOT NULL THEN
            RETURN extract(epoch FROM clock_timestamp());
        END IF;
        IF clock_timestamp() > deadline THEN
            RETURN NULL;
        END IF;
        PERFORM pg_sleep(0.002);
    END LOOP;
END
$$;
SQL
}


# wait_marker NAME ID: waits until the target has bench_t row ID and prints
# the target's clock (seconds since the epoch) when it saw it.  The server
# looks every 2 ms in one session (bench_wait_marker), so the method's
# arrival is timed to a few ms and the waiting costs the machine next to
# nothing; the shell only watches that walapply is alive.
wait_marker()
{
	local name=$1 id=$2 out=$WORK/marker.$1.$2 pid
	q "$name" -c "SELECT bench_wait_marker($id, $LIMIT)" >"$out" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		# A walapply that died will not catch up.
		if [ -n "$WALAPPLY_PID" ] && ! kill -0 "$WALAPPLY_PID" 2>/dev/null; then
			kill "$pid" 2>/dev/null
			echo "walapply exited: $(tail -q -n 2 "$WORK"/walapply*_slot.log)" >&2
			return 1
		fi
		sleep 0.1
	done
	wait "$pid" || { cat "$out" >&2; return 1; }
	[ -s "$out" ] || return 1	# NULL: not within LIMIT seconds
	cat "$out"
}

# check NAME: the target must match the source row for row.
check()
{
	local t a b
	for t in bench_t bench_i; do
		a=$(q src -c "SELECT count(*), md5(string_agg(x::text, ',' ORDER BY id)) FROM $t x")
		b=$(q "$1" -c "SELECT count(*), md5(string_agg(x::text, ',' ORDER BY id)) FROM $t x")
		[ "$a" = "$b" ] || { echo "$1: $t differs: source $a, target $b" >&2; return 1; }
	done
}

# ---- clusters and slots ---------------------------------------------------

echo "starting clusters on ports $BASE_PORT-$((BASE_PORT + 4))" >&2
start src "$BASE_PORT" "$PRELOAD"
start native $((BASE_PORT + 1))
start pglogical $((BASE_PORT + 2)) "$PRELOAD"
start walapply $((BASE_PORT + 3))
start walapply_pair $((BASE_PORT + 4))
for n in src native pglogical walapply walapply_pair; do
	schema "$n"
done

# native: a pgoutput slot now, a disabled subscription that uses it.
q src -c "SELECT pg_create_logical_replication_slot('native_slot', 'pgoutput')" >/dev/null
q native -c "CREATE SUBSCRIPTION native_sub CONNECTION '$(conn src)'
             PUBLICATION bench_pub
             WITH (copy_data = false, create_slot = false,
                   slot_name = 'native_slot', enabled = false)"

# walapply: a wal2proto slot (include-tables at start: the same two tables
# the publication and the replication set name, not pglogical's own).
"$WALAPPLY" -d "$(conn src)" -S walapply_slot --create-slot >/dev/null
"$WALAPPLY" -d "$(conn src)" -S walapply_pair_slot --create-slot >/dev/null

# pglogical: provider and subscriber nodes; the subscription creates its slot
# once its worker runs, so wait for that and disable it again.
PGL_OK=1
pglogical_setup()
{
	q src -c "CREATE EXTENSION pglogical" &&
	q src -c "SELECT pglogical.create_node(node_name := 'src', dsn := '$(conn src)')" >/dev/null &&
	q src -c "SELECT pglogical.replication_set_add_table('default', 'bench_t'),
	                 pglogical.replication_set_add_table('default', 'bench_i')" >/dev/null &&
	q pglogical -c "CREATE EXTENSION pglogical" &&
	q pglogical -c "SELECT pglogical.create_node(node_name := 'dst', dsn := '$(conn pglogical)')" >/dev/null &&
	q pglogical -c "SELECT pglogical.create_subscription(
	                   subscription_name := 'pgl_sub', provider_dsn := '$(conn src)',
	                   replication_sets := ARRAY['default'],
	                   synchronize_structure := false, synchronize_data := false,
	                   forward_origins := '{}')" >/dev/null || return 1
	local i
	for i in $(seq 1 300); do
		if [ "$(q pglogical -c "SELECT status FROM pglogical.show_subscription_status('pgl_sub')")" = replicating ] &&
		   [ "$(q src -c "SELECT count(*) FROM pg_replication_slots WHERE plugin = 'pglogical_output'")" = 1 ]; then
			q pglogical -c "SELECT pglogical.alter_subscription_disable('pgl_sub', true)" >/dev/null
			return 0
		fi
		sleep 0.1
	done
	return 1
}
if ! pglogical_setup; then
	echo "pglogical setup failed; see $WORK/cluster-*/server.log" >&2
	PGL_OK=0
fi
# Wait until pglogical's walsender is gone so the backlog waits for all.
for i in $(seq 1 100); do
	[ "$(q src -c "SELECT count(*) FROM pg_replication_slots WHERE active")" = 0 ] && break
	sleep 0.1
done

# ---- the backlog ----------------------------------------------------------

echo "workload: $ROWS inserts, updates, deletes of bench_t, then $ROWS inserts of bench_i, transactions of $TXN rows" >&2
t0=$(now)
lsn0=$(q src -c "SELECT pg_current_wal_lsn()")
q src -v rows="$ROWS" -v txn="$TXN" -f "$ROOT/bench/workload.sql" >/dev/null
q src -c "INSERT INTO bench_t (id) VALUES (-1)"
q src -v rows="$ROWS" -v txn="$TXN" <<'SQL' >/dev/null
SELECT set_config('bench.rows', :'rows', false),
       set_config('bench.txn', :'txn', false);
DO $$
DECLARE
    nrows int := current_setting('bench.rows')::int;
    txn   int := current_setting('bench.txn')::int;
    lo    int := 1;
BEGIN
    WHILE lo <= nrows LOOP
        INSERT INTO bench_i
        SELECT i, i,
               left(md5(i::text) || md5((i + 1)::text), 50),
               (i * 1.2345)::numeric(14,4),
               timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
               i % 2 = 0,
               jsonb_build_object('k', i, 's', 'abc'),
               decode(md5(i::text), 'hex'),
               md5(i::text)::uuid
          FROM generate_series(lo, least(lo + txn - 1, nrows)) AS i;
        COMMIT;
        lo := lo + txn;
    END LOOP;
END
$$;
SQL
q src -c "INSERT INTO bench_t (id) VALUES (-2)"
# The workload's dirty pages are written out before any method starts.
q src -c CHECKPOINT
echo "workload written in $(echo "$(now) - $t0" | bc) s; WAL: $(q src -c "SELECT pg_size_pretty(pg_current_wal_lsn() - '$lsn0')")" >&2

# ---- timing ---------------------------------------------------------------

declare -A T1 T2 STATUS

# run NAME START_COMMAND: starts the method, times both markers.
timed()
{
	local name=$1 start=$2 ta tb tc c
	echo "method $name: catching up" >&2
	# Every cluster's dirty pages written out (the last method's target's
	# too), so that no checkpoint takes CPU from this one.
	for c in "${!DIR[@]}"; do
		q "$c" -c CHECKPOINT
	done
	ta=$(now)
	eval "$start"
	if tb=$(wait_marker "$name" -1); then
		if tc=$(wait_marker "$name" -2); then
			T1[$name]=$(echo "$tb - $ta" | bc)
			T2[$name]=$(echo "$tc - $tb" | bc)
			if check "$name"; then
				STATUS[$name]=ok
			else
				STATUS[$name]="target differs from source"
			fi
			echo "method $name: ${T1[$name]} s + ${T2[$name]} s (${STATUS[$name]})" >&2
			return 0
		fi
	fi
	STATUS[$name]="did not catch up within $LIMIT s"
	echo "method $name: ${STATUS[$name]}" >&2
}

timed native "q native -c 'ALTER SUBSCRIPTION native_sub ENABLE'"
q native -c "ALTER SUBSCRIPTION native_sub DISABLE"

if [ $PGL_OK = 1 ]; then
	timed pglogical "q pglogical -c \"SELECT pglogical.alter_subscription_enable('pgl_sub', true)\" >/dev/null"
	q pglogical -c "SELECT pglogical.alter_subscription_disable('pgl_sub', true)" >/dev/null
else
	STATUS[pglogical]="setup failed"
fi

# start_walapply SLOT TARGET
start_walapply()
{
	"$WALAPPLY" -d "$(conn src)" -S "$1" --start -o origin=none \
		-o include-tables=public.bench_t,public.bench_i \
		--target "$2" 2>"$WORK/$1.log" &
	WALAPPLY_PID=$!
}
stop_walapply()
{
	if [ -n "$WALAPPLY_PID" ]; then
		kill -TERM "$WALAPPLY_PID" 2>/dev/null || true
		wait "$WALAPPLY_PID" 2>/dev/null || true
		WALAPPLY_PID=
	fi
}
timed walapply "start_walapply walapply_slot 'postgresql://127.0.0.1:${PORT[walapply]}/postgres?user=postgres&source=src&node=dst'"
stop_walapply
timed walapply_pair "start_walapply walapply_pair_slot 'postgresql://127.0.0.1:${PORT[walapply_pair]}/postgres?user=postgres&source=src&node=dst&applied_tombstones=off'"
stop_walapply

# ---- report ---------------------------------------------------------------

C1=$((3 * ROWS + 1))	# changes of phase 1 (with its marker)
C2=$((ROWS + 1))
OUT="$HERE/results-$(date -u +%Y-%m-%d).md"
{
	echo "# Peer catch-up benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "PostgreSQL $(q src -c 'SHOW server_version'), $(nproc) cores; backlog written before any"
	echo "method started: phase 1 = $ROWS inserts + $ROWS updates + $ROWS deletes of bench_t,"
	echo "phase 2 = $ROWS inserts of bench_i; transactions of $TXN rows.  Seconds from"
	echo "start to the phase's marker row on the target; ratio = native's time / the"
	echo "method's time (above 1 = faster than native)."
	echo
	echo "| method | phase | changes | seconds | changes/s | ratio to native | status |"
	echo "|---|---|---:|---:|---:|---:|---|"
	for m in native pglogical walapply walapply_pair; do
		for p in 1 2; do
			if [ "${STATUS[$m]:-}" = ok ]; then
				if [ $p = 1 ]; then s=${T1[$m]}; c=$C1; sn=${T1[native]:-}; else s=${T2[$m]}; c=$C2; sn=${T2[native]:-}; fi
				rate=$(echo "$c / $s" | bc)
				if [ -n "$sn" ] && [ "${STATUS[native]}" = ok ]; then
					ratio=$(printf '%.2f' "$(echo "$sn / $s" | bc -l)")
				else
					ratio=n/a
				fi
				printf '| %s | %s | %d | %.2f | %d | %s | ok |\n' "$m" "$p" "$c" "$s" "$rate" "$ratio"
			else
				printf '| %s | %s | | | | | %s |\n' "$m" "$p" "${STATUS[$m]:-not run}"
			fi
		done
	done
} | tee "$OUT"
echo "written to $OUT" >&2
