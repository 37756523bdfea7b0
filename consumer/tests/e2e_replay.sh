#!/usr/bin/env bash
# e2e_replay.sh
#    End to end: a mixed workload (every value family, every replica
#    identity, truncates, a streamed large transaction with subtransaction
#    aborts, two-phase, messages) streamed by walapply into a .sql and a
#    .jsonl file at once; the .sql file replayed with psql into a fresh
#    database must reproduce every table (digests equal), and the .jsonl
#    file must hold the source's rows.
#
#    usage: e2e_replay.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_lib.sh"

e2e_start 55452 "logical_decoding_work_mem = 64kB"
e2e_psql -f "$E2E_HERE/e2e_schema.sql"
e2e_psql_db replay -f "$E2E_HERE/e2e_schema.sql"

SQL=$E2E_WORK/out.sql
JSONL=$E2E_WORK/out.jsonl
"$WALAPPLY" -d "$CONN" -S e2e --create-slot --two-phase
"$WALAPPLY" -d "$CONN" -S e2e --start -o streaming=on -s 1 -v \
	--target "file:$SQL" --target "file:$JSONL" 2>"$E2E_WORK/walapply.log" &
WPID=$!
E2E_PIDS+=("$WPID")

e2e_psql -f "$E2E_HERE/e2e_workload.sql" >/dev/null

# Wait until the last transaction of the workload is in the file.
for _ in $(seq 1 600); do
	grep -q '^INSERT INTO "public"."marker" ("id") VALUES (2);' "$SQL" 2>/dev/null && break
	kill -0 "$WPID" 2>/dev/null || { cat "$E2E_WORK/walapply.log" >&2; fail "walapply exited early"; }
	sleep 0.1
done
grep -q 'VALUES (2);' "$SQL" || fail "the workload did not reach the file"
kill -TERM "$WPID"
rc=0
wait "$WPID" || rc=$?
[ $rc -eq 0 ] || { cat "$E2E_WORK/walapply.log" >&2; fail "walapply exited with $rc after SIGTERM"; }

# The slot was confirmed up to what the files hold.
confirmed=$(e2e_psql -c "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = 'e2e'")
last_end=$(grep '^COMMIT; -- wal2proto commit' "$SQL" | tail -n 1 | sed 's/.*end_lsn=//')
[ "$confirmed" = "$last_end" ] || fail "slot confirmed $confirmed, file ends at $last_end"

e2e_check_once "$SQL"
e2e_check_once "$JSONL"
grep -q "standalone_message lsn=.* prefix='nt' content=E'\\\\\\\\x00ff'" "$SQL" ||
	fail "the non-transactional message is missing"
grep -q '"prefix":"tx"' "$JSONL" || fail "the transactional message is missing"
grep -q '^-- wal2proto cannot replay' "$SQL" && fail "a change was written as unreplayable"
grep -q "gid='g1'" "$SQL" || fail "the two-phase transaction g1 is missing"
grep -q "rolled back" "$SQL" && fail "the rolled-back prepared transaction was written"
grep -q "'aborted" "$SQL" && fail "a rolled-back subtransaction was written"
grep -q "'gone'" "$SQL" && fail "the aborted streamed transaction was written"

e2e_replay "$SQL" replay
e2e_compare replay

# JSON Lines: rebuild public.simple from the file, compare with the source.
python3 "$E2E_HERE/file_check.py" jsonl-table "$JSONL" simple id >"$E2E_WORK/simple.jsonl-rows"
e2e_psql -c "SELECT json_build_object('id', id, 'v', v, 'n', n::text, 'b', b,
               'f', CASE WHEN f IN ('NaN', 'Infinity', '-Infinity') THEN to_json(f::text) ELSE to_json(f) END,
               'jb', jb) FROM simple ORDER BY id" |
	python3 -c '
import json, sys
for line in sys.stdin:
    print(json.dumps(json.loads(line), sort_keys=True, ensure_ascii=False))' >"$E2E_WORK/simple.source-rows"
diff -u "$E2E_WORK/simple.source-rows" "$E2E_WORK/simple.jsonl-rows" >&2 ||
	fail "public.simple rebuilt from the .jsonl file differs from the source"
echo "e2e: .jsonl rebuilds public.simple ($(wc -l <"$E2E_WORK/simple.source-rows") rows) exactly"
echo "e2e_replay: OK"
