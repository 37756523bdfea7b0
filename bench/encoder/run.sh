#!/bin/bash
#
# run.sh
#    Build and run the encoder benchmark: the plugin's direct protobuf
#    writer (plugin/pbwrite.h) against protobuf-c, on one change.
#
# Copyright (c) 2026, the wal2proto authors.  PostgreSQL License.
#
# Usage: bench/encoder/run.sh
#
# Environment:
#    PG_CONFIG              pg_config to build against (default: from PATH)
#    ENCODER_ITERATIONS     messages per timed run (default 2000000)
#    ENCODER_RUNS           timed runs per encoder; the median is reported (5)
#    ENCODER_CG_ITERATIONS  messages encoded under callgrind (200000)
#    ENCODER_BUILD          build directory (default: build/ beside this script)
#
# Installs the Debian packages it needs when they are missing and it runs as
# root.  Prints a Markdown table on stdout.
#
# IDENTIFICATION
#    bench/encoder/run.sh

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${ENCODER_BUILD:-$here/build}
iterations=${ENCODER_ITERATIONS:-2000000}
runs=${ENCODER_RUNS:-5}
cg_iterations=${ENCODER_CG_ITERATIONS:-200000}
pg_config=${PG_CONFIG:-pg_config}

die() { echo "run.sh: $*" >&2; exit 1; }

# --- dependencies ---------------------------------------------------------

missing=()
command -v protoc-c >/dev/null || missing+=(protobuf-c-compiler)
pkg-config --exists libprotobuf-c 2>/dev/null || missing+=(libprotobuf-c-dev pkg-config)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v "$pg_config" >/dev/null || die "pg_config not found (set PG_CONFIG)"
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing packages: ${missing[*]} (install them, or run as root)"
    echo "installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
fi

# --- build ------------------------------------------------------------------

mkdir -p "$build"
protoc-c --c_out="$build" -I "$top/proto" "$top/proto/wal2proto.proto"

cc=$("$pg_config" --cc)
# The benchmark is compiled as the plugin is (pg_config's CFLAGS); the
# generated code with the same optimisation level.
# shellcheck disable=SC2046
$cc $("$pg_config" --cflags) $(pkg-config --cflags libprotobuf-c) \
    -I"$build" -I"$top/plugin" -I"$("$pg_config" --includedir)" \
    -I"$("$pg_config" --includedir-server)" \
    -c "$here/encoder_bench.c" -o "$build/encoder_bench.o"
# shellcheck disable=SC2046
$cc -O2 -g $(pkg-config --cflags libprotobuf-c) -I"$build" \
    -c "$build/wal2proto.pb-c.c" -o "$build/wal2proto.pb-c.o"
# libpgcommon and libpgport (StringInfo, palloc, snprintf) are static
# libraries in the package library directory.
# shellcheck disable=SC2046
$cc -o "$build/encoder_bench" "$build/encoder_bench.o" "$build/wal2proto.pb-c.o" \
    -L"$("$pg_config" --pkglibdir)" -L"$("$pg_config" --libdir)" -lpgcommon -lpgport \
    $(pkg-config --libs libprotobuf-c)

# --- the encoders write the same bytes ---------------------------------------

# encoder_bench exits 1 unless every mode writes the same bytes; check the
# files it dumps once more, and that protoc reads them as the expected Batch.
"$build/encoder_bench" -n 1 -r 1 -d "$build" >/dev/null
modes=(direct protobuf-c protobuf-c-buffer pack-only)
for mode in "${modes[@]}"; do
    cmp "$build/direct.bin" "$build/$mode.bin"
    protoc --decode=wal2proto.v1.Batch -I "$top/proto" "$top/proto/wal2proto.proto" \
        <"$build/$mode.bin" >"$build/$mode.txt"
    diff -u "$here/expected.txt" "$build/$mode.txt" >&2 ||
        die "protoc's reading of the $mode encoding differs from expected.txt"
done

# --- wall time ---------------------------------------------------------------

load=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A wall cpu bytes instr
while IFS=$'\t' read -r mode w c b; do
    wall[$mode]=$w
    cpu[$mode]=$c
    bytes[$mode]=$b
done < <("$build/encoder_bench" -n "$iterations" -r "$runs")

# --- instructions (callgrind, inside the encoding loop only) ---------------

for mode in "${modes[@]}"; do
    loop=loop_${mode//-/_}
    out=$build/callgrind.$mode.out
    valgrind --tool=callgrind --toggle-collect="$loop" --callgrind-out-file="$out" \
        "$build/encoder_bench" -m "$mode" -n "$cg_iterations" -r 1 >/dev/null 2>"$build/callgrind.$mode.log"
    total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
    [ "${total:-0}" -gt 0 ] || die "callgrind counted nothing in $loop (renamed by the compiler?)"
    # the loop also ran 3 messages for the byte check before the timed run
    instr[$mode]=$(awk -v t="$total" -v n="$cg_iterations" 'BEGIN { printf "%.0f", t / (n + 3) }')
done

# --- report ----------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
pbc=$(pkg-config --modversion libprotobuf-c)
echo "Encoding one Insert of the benchmark row as a Batch element;"
echo "medians of $runs runs of $iterations messages; callgrind over $cg_iterations messages;"
echo "load average before the runs: $load."
echo "$cpu; $($cc --version | head -n 1); protobuf-c $pbc; $("$pg_config" --version)."
echo
echo "| encoder | wall ns/message | CPU ns/message | instructions/message | bytes/message |"
echo "|---|---:|---:|---:|---:|"
for mode in "${modes[@]}"; do
    case $mode in
        direct) label="direct (plugin/pbwrite.h)" ;;
        protobuf-c) label="protobuf-c: build structs, get_packed_size + pack" ;;
        protobuf-c-buffer) label="protobuf-c: build structs, pack_to_buffer" ;;
        pack-only) label="protobuf-c: get_packed_size + pack only (structs prebuilt)" ;;
    esac
    echo "| $label | ${wall[$mode]} | ${cpu[$mode]} | ${instr[$mode]} | ${bytes[$mode]} |"
done
