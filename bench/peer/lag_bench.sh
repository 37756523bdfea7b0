#!/usr/bin/env bash
# lag_bench.sh
#    Commit-to-apply lag of three ways to replicate one PostgreSQL database
#    into another, at a steady rate of single-row transactions: native
#    logical replication (pgoutput + CREATE SUBSCRIPTION), walapply
#    (wal2proto + its postgresql:// peer target) and pglogical (when
#    postgresql-15-pglogical is installed).
#
#    One source cluster, one target cluster per method, one slot per method
#    on the source.  The load generator (lag_load.c, compiled here) inserts
#    one row per transaction into lag_t on a fixed schedule: RATE
#    transactions per second for WARMUP + DURATION seconds.
#
#    MODE=concurrent (the default, chosen because the methods are compared
#    within one run): every method replicates at the same time from the one
#    load, so all see the same commits under the same machine load; they
#    also share the CPU (on 2 cores the three apply paths, their
#    walsenders and the load compete).  MODE=sequential: each method in turn
#    gets its own slot created just before its own load (same rate and
#    length) and is stopped before the next one starts, so no method's work
#    disturbs another's, at the price of different moments of the machine.
#
#    What is measured, per row: the source's commit time
#    (pg_xact_commit_timestamp(xmin) on the source, track_commit_timestamp =
#    on) against clock_timestamp() on the target, taken twice there:
#      written   - by a BEFORE INSERT row trigger that sets lag_t.dst_ts
#                  (a target-only column): the row is written;
#      committed - by a deferred constraint trigger that records the time in
#                  lag_commit(id, ts): it fires inside the target's COMMIT,
#                  so it also counts any wait before the target transaction
#                  commits (e.g. several source transactions applied as one).
#    Both triggers are ENABLE ALWAYS: the apply sessions of all three methods
#    run with session_replication_role = replica.  Same machine, same clock.
#    Rows of the first WARMUP seconds are left out; p50, p90, p99, max and
#    count are reported per method, and every row must have arrived exactly
#    once (the target's lag_t equals the source's row for row).
#
#    Prints a Markdown table and appends it to bench/peer/lag-results-DATE.md;
#    exits 1 after the report when a method was not measured (its cluster
#    logs are then kept).  walapply is copied before the run, so a rebuild
#    meanwhile does not change what is measured; the report names its
#    checksum, build time and the repository's commit.
#
#    usage: bench/peer/lag_bench.sh [WALAPPLY]
#    Environment: RATE (500), WARMUP (5 s), DURATION (30 s), MODE
#    (concurrent|sequential), METHODS ("native walapply pglogical"; pglogical
#    is dropped when not installed), BASE_PORT (56700; 4 ports from there),
#    CATCHUP (60 s a method may take after the load to deliver every row),
#    RESULTS (the file to append to, "-" for none), PG_CONFIG.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WALAPPLY_SRC=${1:-$ROOT/build/consumer/walapply}
RATE=${RATE:-500}
WARMUP=${WARMUP:-5}
DURATION=${DURATION:-30}
MODE=${MODE:-concurrent}
BASE_PORT=${BASE_PORT:-56700}
CATCHUP=${CATCHUP:-60}
METHODS=${METHODS:-native walapply pglogical}
RESULTS=${RESULTS:-$HERE/lag-results-$(date -u +%Y-%m-%d).md}

case "$MODE" in
	concurrent|sequential) ;;
	*) echo "lag_bench: MODE must be concurrent or sequential" >&2; exit 2 ;;
esac

# shellcheck source=/dev/null
source "$ROOT/scripts/pgcluster.sh"
PGBIN=$(pgcluster_bindir)
PKGLIBDIR=$("${PG_CONFIG:-pg_config}" --pkglibdir)

HAVE_PGL=0
[ -f "$PKGLIBDIR/pglogical.so" ] && HAVE_PGL=1
LIST=()
for m in $METHODS; do
	case "$m" in
		native|walapply) LIST+=("$m") ;;
		pglogical)
			if [ $HAVE_PGL = 1 ]; then
				LIST+=(pglogical)
			else
				echo "lag_bench: pglogical is not installed; measuring without it" >&2
			fi
			;;
		*) echo "lag_bench: unknown method $m" >&2; exit 2 ;;
	esac
done
[ ${#LIST[@]} -gt 0 ] || { echo "lag_bench: no method to measure" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/lag-bench.XXXXXX")
chmod 755 "$WORK"
declare -A DIR PORT
WALAPPLY_PID=

cleanup()
{
	local rc=$? k
	set +e
	[ -n "$WALAPPLY_PID" ] && kill -9 "$WALAPPLY_PID" 2>/dev/null
	for k in "${!DIR[@]}"; do
		# Stopping a cluster removes its directory: keep its log.
		[ $rc -eq 0 ] || cp "${DIR[$k]}/server.log" "$WORK/server-$k.log" 2>/dev/null
		pgcluster_stop "${DIR[$k]}" >/dev/null 2>&1 || true
		rm -f "$WORK/cluster-$k"
	done
	if [ $rc -eq 0 ]; then
		rm -rf "$WORK"
	else
		rm -f "$WORK/walapply" "$WORK/lag_load"
		echo "lag_bench: failed (rc $rc); logs kept in $WORK" >&2
	fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# The binaries this run measures: walapply is copied so that a rebuild
# during the run cannot swap it, and the load generator is compiled here.
if [ ! -x "$WALAPPLY_SRC" ]; then
	cmake --build "$ROOT/build" --target walapply >/dev/null
fi
WALAPPLY=$WORK/walapply
cp "$WALAPPLY_SRC" "$WALAPPLY"
WALAPPLY_DESC="$(sha256sum "$WALAPPLY" | cut -c1-12), built $(date -u -r "$WALAPPLY_SRC" '+%Y-%m-%d %H:%M UTC')"
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	WALAPPLY_DESC="$WALAPPLY_DESC; repository at $(git -C "$ROOT" log -1 --format=%h)"
	if ! git -C "$ROOT" diff --quiet HEAD -- consumer proto 2>/dev/null; then
		WALAPPLY_DESC="$WALAPPLY_DESC with uncommitted changes in consumer/ or proto/"
	fi
fi
LOAD=$WORK/lag_load
cc -O2 -Wall -I"$("${PG_CONFIG:-pg_config}" --includedir)" "$HERE/lag_load.c" \
	-L"$("${PG_CONFIG:-pg_config}" --libdir)" -lpq -o "$LOAD"

PRELOAD=()
[ $HAVE_PGL = 1 ] && PRELOAD=("shared_preload_libraries = 'pglogical'")

# shellcheck source=clusters.sh
source "$HERE/clusters.sh"

# walapply_gone: walapply was started and has exited since.
walapply_gone()
{
	[ -n "$WALAPPLY_PID" ] && ! kill -0 "$WALAPPLY_PID" 2>/dev/null
}

# wait_for SECONDS COMMAND METHOD...: until COMMAND succeeds, polling every
# 0.1 s; fails after SECONDS, or at once when METHOD is walapply and its
# process is gone (it would never deliver).
wait_for()
{
	local limit=$1 _
	shift
	for _ in $(seq 1 $((limit * 10))); do
		"$@" && return 0
		if [ "${2:-}" = walapply ] && walapply_gone; then
			return 1
		fi
		sleep 0.1
	done
	return 1
}

# why_missing M: why rows did not arrive at M, when a reason is known.
why_missing()
{
	if [ "$1" = walapply ] && walapply_gone; then
		echo "walapply exited: $(tail -n 1 "$WORK/walapply.log" | cut -c1-300)"
	fi
}

# ---- schema -----------------------------------------------------------------

# The source table.  src_ts (insert time) is kept for reference only: the
# lag is taken from the commit time, which is later.
q_schema_common="CREATE TABLE lag_t (
    id      bigint PRIMARY KEY,
    payload text NOT NULL,
    src_ts  timestamptz NOT NULL DEFAULT clock_timestamp()"

schema_source()
{
	q src -c "$q_schema_common);
	          CREATE PUBLICATION lag_pub FOR TABLE lag_t;"
}

# A target: lag_t with the target-only column dst_ts and both stamps.
schema_target()
{
	q "$1" <<SQL
$q_schema_common,
    dst_ts  timestamptz);
CREATE TABLE lag_commit (id bigint NOT NULL, ts timestamptz NOT NULL);

-- Apply sessions may run with an empty search_path: name every object.
CREATE FUNCTION public.lag_written() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    NEW.dst_ts := clock_timestamp();
    RETURN NEW;
END
\$\$;
CREATE TRIGGER lag_written BEFORE INSERT ON lag_t
    FOR EACH ROW EXECUTE FUNCTION lag_written();
ALTER TABLE lag_t ENABLE ALWAYS TRIGGER lag_written;

CREATE FUNCTION public.lag_committed() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.lag_commit VALUES (NEW.id, clock_timestamp());
    RETURN NULL;
END
\$\$;
CREATE CONSTRAINT TRIGGER lag_committed AFTER INSERT ON lag_t
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION lag_committed();
ALTER TABLE lag_t ENABLE ALWAYS TRIGGER lag_committed;
SQL
}

# ---- the methods ----------------------------------------------------------------
# method_setup M: M's slot on the source and its (not yet running) subscriber.
# method_start M: M runs.  method_ready M: M's walsender is streaming.
# method_stop M: M no longer runs.

PGL_NODE=0
method_setup()
{
	case "$1" in
		native)
			q src -c "SELECT pg_create_logical_replication_slot('native_slot', 'pgoutput')" >/dev/null
			q native -c "CREATE SUBSCRIPTION native_sub CONNECTION '$(conn src)'
			             PUBLICATION lag_pub
			             WITH (copy_data = false, create_slot = false,
			                   slot_name = 'native_slot', enabled = false)"
			;;
		walapply)
			"$WALAPPLY" -d "$(conn src)" -S walapply_slot --create-slot >/dev/null
			;;
		pglogical)
			if [ $PGL_NODE = 0 ]; then
				q src -c "CREATE EXTENSION pglogical"
				q src -c "SELECT pglogical.create_node(node_name := 'src', dsn := '$(conn src)')" >/dev/null
				q src -c "SELECT pglogical.replication_set_add_table('default', 'lag_t')" >/dev/null
				PGL_NODE=1
			fi
			q pglogical -c "CREATE EXTENSION pglogical"
			q pglogical -c "SELECT pglogical.create_node(node_name := 'dst', dsn := '$(conn pglogical)')" >/dev/null
			# Its slot is made by its worker once the subscription runs.
			q pglogical -c "SELECT pglogical.create_subscription(
			                   subscription_name := 'pgl_sub', provider_dsn := '$(conn src)',
			                   replication_sets := ARRAY['default'],
			                   synchronize_structure := false, synchronize_data := false,
			                   forward_origins := '{}')" >/dev/null
			;;
	esac
}

method_start()
{
	case "$1" in
		native)
			q native -c "ALTER SUBSCRIPTION native_sub ENABLE"
			;;
		walapply)
			"$WALAPPLY" -d "$(conn src)" -S walapply_slot --start -o origin=none \
				-o include-tables=public.lag_t \
				--target "postgresql://127.0.0.1:${PORT[walapply]}/postgres?user=postgres&source=src&node=dst" \
				2>"$WORK/walapply.log" &
			WALAPPLY_PID=$!
			;;
		pglogical)
			# create_subscription starts it.
			;;
	esac
}

slot_active()
{
	[ "$(q src -c "SELECT count(*) FROM pg_replication_slots
	                WHERE slot_name LIKE '$1' AND active")" = 1 ]
}

pgl_replicating()
{
	[ "$(q pglogical -c "SELECT status FROM pglogical.show_subscription_status('pgl_sub')")" = replicating ] &&
		slot_active 'pgl_%'
}

method_ready()
{
	case "$1" in
		native) wait_for 30 slot_active native_slot ;;
		walapply) wait_for 30 slot_active walapply_slot && ! walapply_gone ;;
		pglogical) wait_for 30 pgl_replicating ;;
	esac
}

method_stop()
{
	case "$1" in
		native)
			q native -c "ALTER SUBSCRIPTION native_sub DISABLE"
			;;
		walapply)
			if [ -n "$WALAPPLY_PID" ]; then
				kill -TERM "$WALAPPLY_PID" 2>/dev/null || true
				wait "$WALAPPLY_PID" 2>/dev/null || true
				WALAPPLY_PID=
			fi
			;;
		pglogical)
			q pglogical -c "SELECT pglogical.alter_subscription_disable('pgl_sub', true)" >/dev/null
			;;
	esac
}

# ---- load and measurement -----------------------------------------------------

TOTAL=$((RATE * (WARMUP + DURATION)))
declare -A STATUS FIRST LOADINFO ROWS WRITTEN COMMITTED

# has_row M ID: the target of M has lag_t row ID.
has_row()
{
	[ "$(q "$1" -c "SELECT count(*) FROM lag_t WHERE id = $2")" = 1 ]
}

# all_rows M FIRST: the target of M has all TOTAL load rows from FIRST on.
all_rows()
{
	[ "$(q "$1" -c "SELECT count(*) FROM lag_t WHERE id BETWEEN $2 AND $(($2 + TOTAL - 1))")" = "$TOTAL" ]
}

# probe ID M...: one row through every method M before the load, so each
# apply path has done its first-change work (relation set-up, caches).  A
# method that did not start streaming or does not deliver the probe is
# marked failed in STATUS and left out of the rest of the run.
probe()
{
	local id=$1 m
	shift
	q src -c "INSERT INTO lag_t (id, payload) VALUES ($id, 'probe')"
	for m in "$@"; do
		[ -z "${STATUS[$m]:-}" ] || continue
		if ! wait_for 30 has_row "$m" "$id"; then
			STATUS[$m]="the probe row did not arrive. $(why_missing "$m")"
			echo "$m: ${STATUS[$m]}" >&2
		fi
	done
}

# ready M: method_ready, or M marked failed.
ready()
{
	if ! method_ready "$1"; then
		STATUS[$1]="did not start streaming. $(why_missing "$1")"
		echo "$1: ${STATUS[$1]}" >&2
	fi
}

# load FIRST: the steady load, ids FIRST .. FIRST + TOTAL - 1.
load()
{
	echo "load: $RATE transactions/s for $((WARMUP + DURATION)) s (ids $1..$(($1 + TOTAL - 1)))" >&2
	"$LOAD" "$(conn src) application_name=lag_load" "$RATE" $((WARMUP + DURATION)) "$1"
}

# measure M: waits for every row on M's target, checks it against the
# source, and computes M's lag percentiles over the rows after the warm-up.
measure()
{
	local m=$1 first=${FIRST[$1]} from to a b
	to=$((first + TOTAL - 1))
	from=$((first + RATE * WARMUP))
	if ! wait_for "$CATCHUP" all_rows "$m" "$first"; then
		STATUS[$m]="rows missing after the load: $(q "$m" -c "SELECT count(*) FROM lag_t WHERE id BETWEEN $first AND $to") of $TOTAL arrived. $(why_missing "$m")"
		return 0
	fi
	a=$(q src -c "SELECT count(*), md5(string_agg(format('%s|%s|%s', id, payload, src_ts), ',' ORDER BY id))
	              FROM lag_t WHERE id BETWEEN $first AND $to")
	b=$(q "$m" -c "SELECT count(*), md5(string_agg(format('%s|%s|%s', id, payload, src_ts), ',' ORDER BY id))
	               FROM lag_t WHERE id BETWEEN $first AND $to")
	if [ "$a" != "$b" ]; then
		STATUS[$m]="target differs from source (source $a, target $b)"
		return 0
	fi
	if [ "$(q "$m" -c "SELECT count(*) = $TOTAL AND count(DISTINCT id) = $TOTAL
	                   FROM lag_commit WHERE id BETWEEN $first AND $to")" != t ]; then
		STATUS[$m]="lag_commit does not hold each row once"
		return 0
	fi
	# The source's commit times go into a temporary table on the target,
	# where both stamps are joined with them.
	q src -c "COPY (SELECT id, pg_xact_commit_timestamp(xmin) FROM lag_t
	                WHERE id BETWEEN $from AND $to) TO STDOUT" >"$WORK/commit-$m.tsv"
	local out
	out=$(q "$m" -F ' ' \
		-c "CREATE TEMP TABLE src_commit (id bigint PRIMARY KEY, ts timestamptz NOT NULL)" \
		-c "\\copy src_commit FROM '$WORK/commit-$m.tsv'" \
		-c "WITH w AS (SELECT 1000 * extract(epoch FROM t.dst_ts - s.ts) AS ms
		                FROM lag_t t JOIN src_commit s USING (id)),
		         c AS (SELECT 1000 * extract(epoch FROM k.ts - s.ts) AS ms
		                FROM lag_commit k JOIN src_commit s USING (id))
		    SELECT (SELECT count(*) FROM w),
		           (SELECT format('%s %s %s %s', round(p[1], 3), round(p[2], 3), round(p[3], 3), round(mx, 3))
		              FROM (SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY ms)::numeric[] AS p,
		                           max(ms)::numeric AS mx FROM w) x),
		           (SELECT format('%s %s %s %s', round(p[1], 3), round(p[2], 3), round(p[3], 3), round(mx, 3))
		              FROM (SELECT percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY ms)::numeric[] AS p,
		                           max(ms)::numeric AS mx FROM c) x),
		           (SELECT count(*) FROM c)")
	local n w50 w90 w99 wmax c50 c90 c99 cmax ccount
	read -r n w50 w90 w99 wmax c50 c90 c99 cmax ccount <<<"$out"
	ROWS[$m]=$n
	if [ "${ROWS[$m]}" != $((TOTAL - RATE * WARMUP)) ] || [ "$ccount" != "${ROWS[$m]}" ]; then
		STATUS[$m]="measured ${ROWS[$m]}/$ccount rows, expected $((TOTAL - RATE * WARMUP))"
		return 0
	fi
	WRITTEN[$m]="$w50 $w90 $w99 $wmax"
	COMMITTED[$m]="$c50 $c90 $c99 $cmax"
	STATUS[$m]=ok
	echo "$m: written p50/p90/p99/max ${WRITTEN[$m]} ms; committed ${COMMITTED[$m]} ms" >&2
}

# ---- the run ------------------------------------------------------------------

LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "starting clusters on ports $BASE_PORT-$((BASE_PORT + ${#LIST[@]}))" >&2
start src "$BASE_PORT" "${PRELOAD[@]}"
schema_source
p=$BASE_PORT
for m in "${LIST[@]}"; do
	p=$((p + 1))
	if [ "$m" = pglogical ]; then
		start "$m" "$p" "${PRELOAD[@]}"
	else
		start "$m" "$p"
	fi
	schema_target "$m"
done

if [ "$MODE" = concurrent ]; then
	for m in "${LIST[@]}"; do
		method_setup "$m"
	done
	for m in "${LIST[@]}"; do
		method_start "$m"
	done
	for m in "${LIST[@]}"; do
		ready "$m"
	done
	probe 0 "${LIST[@]}"
	info=$(load 1)
	for m in "${LIST[@]}"; do
		FIRST[$m]=1
		LOADINFO[$m]=$info
	done
	for m in "${LIST[@]}"; do
		[ -n "${STATUS[$m]:-}" ] || measure "$m"
	done
	for m in "${LIST[@]}"; do
		method_stop "$m"
	done
else
	first=1
	k=0
	for m in "${LIST[@]}"; do
		k=$((k + 1))
		method_setup "$m"
		method_start "$m"
		ready "$m"
		probe "-$k" "$m"
		if [ -z "${STATUS[$m]:-}" ]; then
			FIRST[$m]=$first
			LOADINFO[$m]=$(load "$first")
			measure "$m"
			first=$((first + TOTAL))
		fi
		method_stop "$m"
	done
fi

# ---- report ----------------------------------------------------------------------

ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
}

lt()
{
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'
}

# within P99 NATIVE_P99: at most 1.5 times native's.
within()
{
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= 1.5 * b) }'
}

report()
{
	local m w c wa ca
	echo "## Commit-to-apply lag, $(date -u '+%Y-%m-%d %H:%M UTC'), $MODE"
	echo
	echo "PostgreSQL $(q src -c 'SHOW server_version'), $(nproc) cores, load average before the run"
	echo "$LOADAVG_BEFORE; walapply $WALAPPLY_DESC."
	echo "$RATE single-row transactions/s for $WARMUP s of warm-up + $DURATION s measured;"
	if [ "$MODE" = concurrent ]; then
		echo "all methods at the same time from one load (${LOADINFO[${LIST[0]}]})."
	else
		echo "one method after the other, each with its own load of the same rate and length."
	fi
	echo "Milliseconds from the source commit to the row written on the target"
	echo "(BEFORE INSERT trigger) and to the target's commit (deferred trigger)."
	echo
	echo "| method | rows | written p50 | p90 | p99 | max | committed p50 | p90 | p99 | max | status |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for m in "${LIST[@]}"; do
		if [ "${STATUS[$m]:-}" = ok ]; then
			read -r -a w <<<"${WRITTEN[$m]}"
			read -r -a c <<<"${COMMITTED[$m]}"
			echo "| $m | ${ROWS[$m]} | ${w[0]} | ${w[1]} | ${w[2]} | ${w[3]} | ${c[0]} | ${c[1]} | ${c[2]} | ${c[3]} | ok |"
		else
			echo "| $m | | | | | | | | | | ${STATUS[$m]:-not run} |"
		fi
	done
	if [ "$MODE" = sequential ]; then
		echo
		for m in "${LIST[@]}"; do
			echo "- load of $m: ${LOADINFO[$m]:-not run}"
		done
	fi
	if [ "${STATUS[walapply]:-}" = ok ] && [ "${STATUS[native]:-}" = ok ]; then
		read -r -a w <<<"${WRITTEN[walapply]}"
		read -r -a c <<<"${COMMITTED[walapply]}"
		read -r -a wa <<<"${WRITTEN[native]}"
		read -r -a ca <<<"${COMMITTED[native]}"
		echo
		echo "walapply against the bars (p50 under 1 ms, p99 at most 1.5 x native's, same run):"
		echo
		for k in written committed; do
			local p50 p99 n99 r
			if [ $k = written ]; then p50=${w[0]} p99=${w[2]} n99=${wa[2]}; else p50=${c[0]} p99=${c[2]} n99=${ca[2]}; fi
			r=$(ratio "$p99" "$n99")
			printf -- '- %s: p50 %s ms (%s), p99 %s ms = %s x native %s ms (%s)\n' "$k" \
				"$p50" "$(lt "$p50" 1 && echo met || echo missed)" \
				"$p99" "$r" "$n99" "$(within "$p99" "$n99" && echo met || echo missed)"
		done
	fi
	echo
}

{
	report
} >"$WORK/report.md"
cat "$WORK/report.md"
if [ "$RESULTS" != - ]; then
	if [ ! -s "$RESULTS" ]; then
		printf '# Commit-to-apply lag benchmark results\n\nWritten by lag_bench.sh; one section per run.\n\n' >"$RESULTS"
	fi
	cat "$WORK/report.md" >>"$RESULTS"
	echo "appended to $RESULTS" >&2
fi
for m in "${LIST[@]}"; do
	[ "${STATUS[$m]:-}" = ok ] || { echo "lag_bench: $m was not measured" >&2; exit 1; }
done
