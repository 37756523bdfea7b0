#!/usr/bin/env bash
#
# decode_bench.sh
#    Decoding benchmark: wal2proto against the logical decoding output
#    plugins that PostgreSQL and Debian ship (pgoutput, test_decoding,
#    wal2json, decoderbufs), on one workload, in one throw-away cluster.
#
# Every plugin gets its own slot, created before the workload, so every slot
# decodes exactly the same WAL.  For each plugin configuration the script
# then measures, as the median of BENCH_RUNS runs:
#
#  (a) the SQL interface: pg_logical_slot_peek_binary_changes() over the whole
#      workload, timed inside the server (bench_peek() in setup.sql); peeking
#      does not consume the slot, so the same slot serves every run;
#  (b) streaming: pg_recvlogical --start --endpos=<end of workload> into
#      /dev/null, timed as wall-clock time of the client; streaming consumes
#      the slot, so each run uses a fresh copy of the untouched template slot
#      (pg_copy_logical_replication_slot).
#
# It prints a Markdown table and writes it, with the environment, to
# bench/results/decode-<UTC date>.md.  See bench/README.md.
#
# Usage: bench/decode_bench.sh   (as root, which runs the server as the
#                                 postgres OS user, or as any user that may
#                                 run initdb)
#
# Environment:
#   BENCH_PORT         TCP port of the temporary cluster (default 55440)
#   BENCH_ROWS         rows inserted, updated and deleted (default 200000)
#   BENCH_TXN          rows per transaction (default 1000)
#   BENCH_RUNS         runs per measurement, median reported (default 5)
#   BENCH_BATCH_BYTES  wal2proto batch-bytes values measured besides the
#                      default and 0 (default "16384 65536 262144")
#   BENCH_ONLY         extended regex: measure only configurations whose
#                      label matches (default: all)
#   BENCH_RESULTS      results file (default bench/results/decode-<date>.md;
#                      "-" for none)
#   BENCH_BUILD        1: measure wal2proto built from the repository's HEAD
#                      (in a temp dir) instead of the installed library
#   BENCH_KEEP         1: leave the cluster running at the end (stop it with
#                      scripts/pgcluster.sh stop DIR)
#   PG_CONFIG          pg_config of the PostgreSQL to use (default pg_config)

set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)

PG_CONFIG=${PG_CONFIG:-pg_config}
BINDIR=$("$PG_CONFIG" --bindir)
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
PORT=${BENCH_PORT:-55440}
ROWS=${BENCH_ROWS:-200000}
TXN=${BENCH_TXN:-1000}
RUNS=${BENCH_RUNS:-5}
BATCH_BYTES=${BENCH_BATCH_BYTES:-16384 65536 262144}
ONLY=${BENCH_ONLY:-}
DATE=$(date -u +%Y-%m-%d)
RESULTS=${BENCH_RESULTS:-$here/results/decode-$DATE.md}

CHANGES=$((3 * ROWS))
NTXN=$((3 * ((ROWS + TXN - 1) / TXN)))

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------------------
# The temporary cluster, from scripts/pgcluster.sh: run by an unprivileged OS
# user, superuser "postgres", trust authentication, a unix socket in its
# directory.  The workload only has to produce WAL; what is measured is
# decoding it, so autovacuum and checkpoints, which would only add noise to
# the timings, are kept out of the way.
# ---------------------------------------------------------------------------

# shellcheck source=../scripts/pgcluster.sh
source "$here/../scripts/pgcluster.sh"

# Scratch space of this script (client output, the report, the plugin).
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/wal2proto-bench.XXXXXX")
chmod 755 "$SCRATCH"

cleanup() {
    if [ -n "${PGCLUSTER_DIR:-}" ]; then
        if [ "${BENCH_KEEP:-0}" = 1 ]; then
            log "kept the cluster in $PGCLUSTER_DIR (port $PORT), its plugin copy in $SCRATCH"
            return
        fi
        pgcluster_stop
    fi
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The plugins this machine has; the benchmark measures whichever exist.
have_plugin() {
    [ -f "$PKGLIBDIR/$1.so" ] || { [ "$1" = wal2proto ] && [ "${BENCH_BUILD:-0}" = 1 ]; }
}
for p in wal2proto wal2json decoderbufs; do
    have_plugin "$p" || log "note: $PKGLIBDIR/$p.so not found; $p is not measured"
done

# The server loads wal2proto from a copy taken now, found first on
# dynamic_library_path: a "make install" while the benchmark runs must not
# change the plugin between one run and the next.
W2P_FROM=""
if have_plugin wal2proto; then
    mkdir -m 755 "$SCRATCH/lib"
    if [ "${BENCH_BUILD:-0}" = 1 ]; then
        W2P_FROM=$(git -C "$here" rev-parse --short HEAD)
        log "building wal2proto at $W2P_FROM"
        mkdir "$SCRATCH/src"
        git -C "$here/.." archive HEAD | tar -x -C "$SCRATCH/src"
        make -s -C "$SCRATCH/src" PG_CONFIG="$PG_CONFIG" >"$SCRATCH/build.log" 2>&1 ||
            { cat "$SCRATCH/build.log" >&2; die "wal2proto did not build"; }
        cp "$SCRATCH/src/wal2proto.so" "$SCRATCH/lib/"
    else
        cp "$PKGLIBDIR/wal2proto.so" "$SCRATCH/lib/"
    fi
    chmod 644 "$SCRATCH/lib/wal2proto.so"
    W2P_SHA=$(sha256sum "$SCRATCH/lib/wal2proto.so" | cut -c1-12)
fi

start_cluster() {
    pgcluster_start "$PORT" \
        "dynamic_library_path = '$SCRATCH/lib:\$libdir'" \
        'shared_buffers = 512MB' \
        'max_wal_size = 8GB' \
        'checkpoint_timeout = 1h' \
        'autovacuum = off' || die "could not start the cluster"
    SOCKDIR=$PGCLUSTER_SOCKDIR
    PSQL=("$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCKDIR" -p "$PORT"
          -U postgres -d postgres)
}

# decoderbufs announces every start-up with an INFO message, which reaches
# the client whatever client_min_messages says: keep the stderr of clients
# aside and show it only when they fail.
CLIENT_ERR=$SCRATCH/client.err
quiet() {
    "$@" 2>"$CLIENT_ERR" || { cat "$CLIENT_ERR" >&2; return 1; }
}
sql() { quiet "${PSQL[@]}" -At -c "$1"; }

# ---------------------------------------------------------------------------
# Configurations measured: label | template slot | options (name=value ...)
# ---------------------------------------------------------------------------

configs=()
if have_plugin wal2proto; then
    configs+=("wal2proto (defaults)|bench_wal2proto|")
    configs+=("wal2proto batch-bytes=0|bench_wal2proto|batch-bytes=0")
    for bb in $BATCH_BYTES; do
        configs+=("wal2proto batch-bytes=$bb|bench_wal2proto|batch-bytes=$bb")
    done
fi
configs+=("pgoutput proto_version 1|bench_pgoutput|proto_version=1 publication_names=bench_pub")
configs+=("test_decoding|bench_test_decoding|")
if have_plugin wal2json; then
    configs+=("wal2json format-version 1|bench_wal2json|format-version=1")
    configs+=("wal2json format-version 2|bench_wal2json|format-version=2")
fi
if have_plugin decoderbufs; then
    configs+=("decoderbufs|bench_decoderbufs|")
fi
ANCHOR="write-nothing anchor (pgoutput, empty publication)"
configs+=("$ANCHOR|bench_pgoutput|proto_version=1 publication_names=bench_none")

if [ -n "$ONLY" ]; then
    selected=()
    for c in "${configs[@]}"; do
        # pgoutput is the reference of every ratio: always measure it.
        if [[ ${c%%|*} =~ $ONLY || ${c%%|*} == "pgoutput proto_version 1" ]]; then
            selected+=("$c")
        fi
    done
    configs=("${selected[@]}")
fi

# Options as the SQL functions' text array, and as pg_recvlogical flags.
sql_options() {
    local out="" kv
    for kv in $1; do
        out+="${out:+,}'${kv%%=*}','${kv#*=}'"
    done
    printf 'ARRAY[%s]::text[]' "$out"
}
recv_options() {
    local kv
    for kv in $1; do
        printf -- '-o\n%s\n' "$kv"
    done
}

median() { sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------------------
# Set up, create the slots, run the workload.
# ---------------------------------------------------------------------------

t_begin=$(date +%s)
load_begin=$(cut -d' ' -f1-3 /proc/loadavg)
start_cluster
log "cluster in $PGCLUSTER_DIR, port $PORT"
"${PSQL[@]}" -f "$here/setup.sql"
# wal2proto.to_json(), from the same copy of the library, reads wal2proto's
# output back for the check below.
if have_plugin wal2proto; then
    sql "CREATE FUNCTION bench_to_json(bytea) RETURNS jsonb
         AS '$SCRATCH/lib/wal2proto', 'wal2proto_to_json' LANGUAGE C STRICT" >/dev/null
fi

for c in "${configs[@]}"; do
    IFS='|' read -r label slot opts <<<"$c"
    plugin=${slot#bench_}
    if [ "$(sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'")" = 0 ]; then
        sql "SELECT pg_create_logical_replication_slot('$slot', '$plugin')" >/dev/null
    fi
done

log "workload: $ROWS inserts, updates, deletes in transactions of $TXN rows"
t0=$(date +%s.%N)
"${PSQL[@]}" -v rows="$ROWS" -v txn="$TXN" -f "$here/workload.sql" >/dev/null
END_LSN=$(sql "SELECT pg_current_wal_insert_lsn()")
# The SQL interface decodes only WAL that is flushed.
sql "SELECT pg_switch_wal()" >/dev/null
until [ "$(sql "SELECT pg_current_wal_flush_lsn() >= '$END_LSN'")" = t ]; do
    sleep 0.1
done
t1=$(date +%s.%N)
wal_bytes=$(sql "SELECT pg_wal_lsn_diff('$END_LSN', min(restart_lsn))::bigint FROM pg_replication_slots")
log "workload done in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, end LSN $END_LSN, $((wal_bytes / 1048576)) MB of WAL"
# Read the WAL once so that the first timed run does not pay for the page
# cache alone.
sql "SELECT count(*) FROM pg_logical_slot_peek_binary_changes('bench_pgoutput', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench_none')" >/dev/null

declare -A sql_secs sql_cpu writes bytes stream_secs stream_cpu

# CPU time is measured beside wall-clock time: other work on the machine
# stretches wall-clock time much more than CPU time.
HZ=$(getconf CLK_TCK)
TIMEFORMAT='%3U %3S'    # bash's time: user and system seconds
POSTMASTER=$(pgcluster_as_user head -1 "$PGCLUSTER_DATA/postmaster.pid")

# CPU ticks of the postmaster's children that have exited (cutime + cstime):
# a walsender's CPU time lands there once it has exited.
reaped_ticks() {
    awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$POSTMASTER/stat"
}

# Wait until no client backend or walsender of the cluster is left, so that
# the CPU time of the ones that have ended is in reaped_ticks().
wait_for_backends() {
    local n
    for n in $(seq 100); do
        pgrep -P "$POSTMASTER" -f '^postgres: (postgres postgres|walsender)' \
            >/dev/null || return 0
        sleep 0.05
    done
    die "backends of the cluster did not exit"
}

# (a) SQL interface.  Rounds go over every configuration in turn so that a
# slow spell of the machine does not land on one plugin only.
for ((r = 1; r <= RUNS; r++)); do
    for i in "${!configs[@]}"; do
        IFS='|' read -r label slot opts <<<"${configs[$i]}"
        out=$(sql "SELECT secs, cpu_ticks, writes, bytes FROM bench_peek('$slot', $(sql_options "$opts"))")
        IFS='|' read -r secs ticks w b <<<"$out"
        secs=$(printf '%.3f' "$secs")
        cpu=$(awk -v t="$ticks" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')
        log "sql    run $r  $label: $secs s, CPU $cpu s, $w writes, $b bytes"
        sql_secs[$i]+="$secs "
        sql_cpu[$i]+="$cpu "
        if [ -n "${writes[$i]:-}" ] && [ "${writes[$i]}" != "$w" -o "${bytes[$i]}" != "$b" ]; then
            die "$label: output differs between runs ($w/$b vs ${writes[$i]}/${bytes[$i]})"
        fi
        writes[$i]=$w
        bytes[$i]=$b
    done
done

# Sanity checks that need no knowledge of the formats: test_decoding writes
# one row per change plus BEGIN and COMMIT; the anchor writes nothing; every
# other configuration writes something.
for i in "${!configs[@]}"; do
    IFS='|' read -r label slot opts <<<"${configs[$i]}"
    case $label in
        test_decoding)
            [ "${writes[$i]}" = $((CHANGES + 2 * NTXN)) ] ||
                die "test_decoding wrote ${writes[$i]} rows, expected $((CHANGES + 2 * NTXN))" ;;
        "$ANCHOR")
            [ "${writes[$i]}" = 0 ] || die "the anchor wrote ${writes[$i]} rows" ;;
        *)
            [ "${writes[$i]}" -gt 0 ] || die "$label wrote nothing" ;;
    esac
done

# wal2proto's writes must hold every change, whatever the batching: count
# the messages of each kind with wal2proto.to_json() (untimed).  With
# batch-bytes=0 every message is a write of its own.
for i in "${!configs[@]}"; do
    IFS='|' read -r label slot opts <<<"${configs[$i]}"
    [ "$slot" = bench_wal2proto ] || continue
    counts=$(sql "SELECT count(*) FILTER (WHERE m ? 'begin') || ' ' ||
                         count(*) FILTER (WHERE m ? 'relation') || ' ' ||
                         count(*) FILTER (WHERE m ? 'insert') || ' ' ||
                         count(*) FILTER (WHERE m ? 'update') || ' ' ||
                         count(*) FILTER (WHERE m ? 'delete') || ' ' ||
                         count(*) FILTER (WHERE m ? 'commit') || ' ' ||
                         count(*)
                    FROM pg_logical_slot_peek_binary_changes('$slot', NULL, NULL,
                             VARIADIC $(sql_options "$opts")) AS c,
                         jsonb_array_elements(bench_to_json(c.data) -> 'messages') AS m")
    expected="$NTXN 1 $ROWS $ROWS $ROWS $NTXN $((CHANGES + 2 * NTXN + 1))"
    log "check  $label: begin relation insert update delete commit all = $counts"
    [ "$counts" = "$expected" ] ||
        die "$label: wrong messages (expected $expected)"
    if [[ " $opts " == *" batch-bytes=0 "* ]] && [ "${writes[$i]}" != "${counts##* }" ]; then
        die "$label: ${writes[$i]} writes for ${counts##* } messages"
    fi
done

# (b) Streaming through a walsender into pg_recvlogical.
for ((r = 1; r <= RUNS; r++)); do
    for i in "${!configs[@]}"; do
        IFS='|' read -r label slot opts <<<"${configs[$i]}"
        sql "SELECT pg_copy_logical_replication_slot('$slot', 'bench_run')" >/dev/null
        mapfile -t oflags < <(recv_options "$opts")
        wait_for_backends
        server0=$(reaped_ticks)
        t0=$(date +%s.%N)
        { time quiet "$BINDIR/pg_recvlogical" -h "$SOCKDIR" -p "$PORT" \
            -U postgres -d postgres -S bench_run --start --endpos="$END_LSN" \
            --no-loop -f /dev/null "${oflags[@]}"; } 2>"$SCRATCH/time" ||
            { cat "$SCRATCH/time" >&2; die "$label: pg_recvlogical failed"; }
        t1=$(date +%s.%N)
        wait_for_backends
        server1=$(reaped_ticks)
        read -r cuser csys <"$SCRATCH/time"
        # pg_recvlogical confirms what it has received before it exits, so
        # the copy must have reached the end of the workload.
        reached=$(sql "SELECT confirmed_flush_lsn >= '$END_LSN' FROM pg_replication_slots WHERE slot_name = 'bench_run'")
        sql "SELECT pg_drop_replication_slot('bench_run')" >/dev/null
        [ "$reached" = t ] || die "$label: pg_recvlogical stopped before $END_LSN"
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        cpu=$(awk -v s="$((server1 - server0))" -v hz="$HZ" -v u="$cuser" \
            -v y="$csys" 'BEGIN { printf "%.2f", s / hz + u + y }')
        log "stream run $r  $label: $secs s, CPU $cpu s (walsender $(awk -v s="$((server1 - server0))" -v hz="$HZ" 'BEGIN { printf "%.2f", s / hz }') s)"
        stream_secs[$i]+="$secs "
        stream_cpu[$i]+="$cpu "
    done
done

# ---------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------

ref=""
for i in "${!configs[@]}"; do
    [[ ${configs[$i]} == "pgoutput proto_version 1|"* ]] && ref=$i
done
ref_sql=$(tr ' ' '\n' <<<"${sql_secs[$ref]}" | grep . | median)
ref_stream=$(tr ' ' '\n' <<<"${stream_secs[$ref]}" | grep . | median)
ref_sql_cpu=$(tr ' ' '\n' <<<"${sql_cpu[$ref]}" | grep . | median)
ref_stream_cpu=$(tr ' ' '\n' <<<"${stream_cpu[$ref]}" | grep . | median)

report=$SCRATCH/report.md
{
    echo "# Decoding benchmark, $DATE"
    echo
    echo "Workload: $ROWS inserts, $ROWS updates (n, t, amount, ts, doc), $ROWS deletes of"
    echo "\`bench_t (id bigint primary key, n int, t text, amount numeric(14,4), ts timestamptz,"
    echo "flag bool, doc jsonb, b bytea, u uuid)\`, in transactions of $TXN rows: $CHANGES changes,"
    echo "$((wal_bytes / 1048576)) MB of WAL. Median of $RUNS runs. Ratios are to pgoutput"
    echo "(lower is faster); \"writes\" is the number of rows (plugin writes) the SQL interface returned."
    echo
    echo "| plugin | SQL s | SQL changes/s | bytes/change | SQL ratio to pgoutput | streamed s | streamed ratio to pgoutput | writes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for i in "${!configs[@]}"; do
        IFS='|' read -r label slot opts <<<"${configs[$i]}"
        s=$(tr ' ' '\n' <<<"${sql_secs[$i]}" | grep . | median)
        st=$(tr ' ' '\n' <<<"${stream_secs[$i]}" | grep . | median)
        awk -v label="$label" -v s="$s" -v st="$st" -v rs="$ref_sql" \
            -v rst="$ref_stream" -v b="${bytes[$i]}" -v w="${writes[$i]}" \
            -v n="$CHANGES" 'BEGIN {
            printf "| %s | %.3f | %.0f | %.1f | %.2f | %.3f | %.2f | %d |\n",
                label, s, n / s, b / n, s / rs, st, st / rst, w }'
    done
    # wal2proto's defaults against its targets relative to pgoutput.
    for i in "${!configs[@]}"; do
        [[ ${configs[$i]} == "wal2proto (defaults)|"* ]] || continue
        s=$(tr ' ' '\n' <<<"${sql_secs[$i]}" | grep . | median)
        st=$(tr ' ' '\n' <<<"${stream_secs[$i]}" | grep . | median)
        awk -v s="$s" -v st="$st" -v rs="$ref_sql" -v rst="$ref_stream" \
            -v b="${bytes[$i]}" -v rb="${bytes[$ref]}" 'BEGIN {
            printf "\nwal2proto (defaults) against pgoutput: SQL time %.2fx (target <= 0.8), streamed time %.2fx (target <= 0.6), bytes/change %.2fx (target <= 0.8).\n",
                s / rs, st / rst, b / rb }'
    done
    echo
    echo "CPU time (user + system), less disturbed by other work on the machine than wall-clock time:"
    echo "of the backend for SQL; of the walsender and pg_recvlogical together for streaming."
    echo
    echo "| plugin | SQL CPU s | SQL CPU ratio to pgoutput | streamed CPU s | streamed CPU ratio to pgoutput |"
    echo "|---|---:|---:|---:|---:|"
    for i in "${!configs[@]}"; do
        c=$(tr ' ' '\n' <<<"${sql_cpu[$i]}" | grep . | median)
        sc=$(tr ' ' '\n' <<<"${stream_cpu[$i]}" | grep . | median)
        awk -v label="${configs[$i]%%|*}" -v c="$c" -v sc="$sc" \
            -v rc="$ref_sql_cpu" -v rsc="$ref_stream_cpu" 'BEGIN {
            printf "| %s | %.2f | %.2f | %.2f | %.2f |\n", label, c, c / rc, sc, sc / rsc }'
    done
    echo
    echo "Every run, in seconds (SQL wall | streamed wall | SQL CPU | streamed CPU):"
    echo
    for i in "${!configs[@]}"; do
        echo "- ${configs[$i]%%|*}: ${sql_secs[$i]}| ${stream_secs[$i]}| ${sql_cpu[$i]}| ${stream_cpu[$i]% }"
    done
    echo
    echo "Environment: PostgreSQL $("$BINDIR/postgres" --version | awk '{ print $3 }'),"
    echo "$(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)),"
    versions=""
    for pkg in wal2json decoderbufs; do
        v=$(dpkg-query -W -f='${Version}' "postgresql-$("$PG_CONFIG" --version | awk '{ split($2, a, "."); print a[1] }')-$pkg" 2>/dev/null || true)
        [ -n "$v" ] && versions+="$pkg $v, "
    done
    rev=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if [ -n "$(git -C "$here/.." status --porcelain -- plugin Makefile 2>/dev/null)" ]; then
        rev+=" with uncommitted plugin changes"
    fi
    if [ -n "$W2P_FROM" ]; then
        echo "${versions}wal2proto built from commit $W2P_FROM (wal2proto.so sha256 $W2P_SHA...)."
    elif [ -n "${W2P_SHA:-}" ]; then
        echo "${versions}wal2proto.so sha256 $W2P_SHA... as installed (source tree at commit $rev)."
    else
        echo "${versions%, }."
    fi
    echo "Total benchmark time $(( $(date +%s) - t_begin )) s; load average $load_begin at the"
    echo "start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (other work on the machine slows every figure)."
} >"$report"

cat "$report"
if [ "$RESULTS" != - ]; then
    mkdir -p "$(dirname "$RESULTS")"
    cp "$report" "$RESULTS"
    log "wrote $RESULTS"
fi
