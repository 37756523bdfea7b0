#!/usr/bin/env bash
# e2e_memory.sh
#    A single transaction of 1,000,000 rows passes through walapply into a
#    .sql file with walapply's peak RSS under 100 MB: the transaction spills
#    to disk instead of being held in memory, and the file target writes it
#    in chunks.  Run twice: without streaming (the whole transaction arrives
#    at commit) and with streaming=on.
#
#    usage: e2e_memory.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_lib.sh"

e2e_start 55454 "logical_decoding_work_mem = 1MB"
e2e_psql -c "CREATE TABLE m (id int PRIMARY KEY, v text, n numeric, t timestamptz)"

for streaming in off on; do
	slot=mem_$streaming
	SQL=$E2E_WORK/mem_$streaming.sql
	"$WALAPPLY" -d "$CONN" -S "$slot" --create-slot
	e2e_psql -c "TRUNCATE m" -c "INSERT INTO m SELECT g, md5(g::text), g / 7.0, '2020-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 1000000) g"
	endpos=$(e2e_wal_lsn)
	"$WALAPPLY" -d "$CONN" -S "$slot" --start -o "streaming=$streaming" -E "$endpos" -v \
		--target "file:$SQL" 2>"$E2E_WORK/walapply_$streaming.log" ||
		{ cat "$E2E_WORK/walapply_$streaming.log" >&2; fail "walapply failed"; }
	rss=$(grep -o 'peak RSS [0-9]* kB' "$E2E_WORK/walapply_$streaming.log" | awk '{print $3}')
	[ -n "$rss" ] || fail "walapply did not report its peak RSS"
	rows=$(grep -c '^INSERT INTO "public"."m"' "$SQL")
	echo "e2e: streaming=$streaming: $rows rows written, walapply peak RSS $((rss / 1024)) MB"
	[ "$rows" = 1000000 ] || fail "expected 1000000 rows in the file, found $rows"
	[ "$rss" -lt 102400 ] || fail "peak RSS $rss kB is not under 100 MB"
	e2e_check_once "$SQL"
	rm -f "$SQL"
done
echo "e2e_memory: OK"
