#!/usr/bin/env bash
# e2e_peer_crash.sh
#    Exactly once into a peer across crashes: link a -> b applies a workload
#    of 40 transactions of 4,000 inserts each (sent as several COPYs, fed by
#    walapply's second thread) and, every fourth, a transaction of updates,
#    a delete and an insert of another table (pipelined; its tombstones
#    would keep the first table's inserts from COPY), while walapply is
#    killed with SIGKILL 12 times at random moments and restarted, and node
#    b itself is restarted (immediate) once.  Afterwards b must hold exactly a's rows (digests)
#    and have logged no conflict: a change applied twice would have met its
#    own earlier application (insert_exists, delete_missing).
#
#    usage: e2e_peer_crash.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_peer_lib.sh"

peer_start a 55472
peer_start b 55473
SCHEMA="CREATE TABLE bulk (id int PRIMARY KEY, tx int NOT NULL, v int NOT NULL, t text);
        CREATE TABLE side (id int PRIMARY KEY, v int NOT NULL);"
for n in a b; do
	peer_psql $n -c "$SCHEMA"
done
peer_slot a b
peer_link a b
peer_psql a -c "INSERT INTO side SELECT g, 0 FROM generate_series(1, 100) g"
peer_wait_converged 30 a b

TXNS=40
ROWS=4000
workload()
{
	local k
	for k in $(seq 1 $TXNS); do
		echo "INSERT INTO bulk SELECT $k * 10000 + g, $k, g, md5(g::text) FROM generate_series(1, $ROWS) g;"
		if [ $((k % 4)) = 0 ]; then
			echo "BEGIN;
UPDATE side SET v = v + 1 WHERE id % 7 = $((k % 7));
DELETE FROM side WHERE id = $k;
INSERT INTO side VALUES ($((1000 + k)), $k);
COMMIT;"
		fi
		if [ $k = $((TXNS / 2)) ]; then
			echo "SELECT pg_sleep(0.5);"	# while b restarts
		fi
	done >"$PEER_WORK/load.sql"
	peer_psql a -f "$PEER_WORK/load.sql" >/dev/null
}
workload &
LOAD=$!

RANDOM=11
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
	sleep "0.$((RANDOM % 20 + 5))"
	kill -9 "${PEER_LINK_PID[a-b]}" 2>/dev/null || true
	wait "${PEER_LINK_PID[a-b]}" 2>/dev/null || true
	echo "e2e: kill -9 of link a->b"
	if [ $i = 4 ]; then
		echo "e2e: restarting node b (immediate)"
		pgcluster_as_user "$PGBIN/pg_ctl" -D "${PEER_DIR[b]}/data" -l "${PEER_DIR[b]}/server.log" \
			-m immediate -w restart >/dev/null
	fi
	peer_link a b
done
wait $LOAD || fail "workload on a failed"
echo "e2e: workload done"
peer_wait_converged 120 a b
rows=$(peer_psql b -c "SELECT count(*) FROM bulk")
[ "$rows" = $((TXNS * ROWS)) ] || fail "b holds $rows rows of bulk, not $((TXNS * ROWS))"
conflicts=$(peer_psql b -c "SELECT count(*) FROM wal2proto.conflicts")
[ "$conflicts" = 0 ] || fail "b logged $conflicts conflicts (a change applied twice?): $(peer_psql b -c "SELECT conflict_type, count(*) FROM wal2proto.conflicts GROUP BY 1")"
peer_unlink a b
# (how many kills cut a COPY short, as b's server saw it)
cut=$(grep -c "unexpected EOF on client connection with an open transaction" "${PEER_DIR[b]}/server.log" || true)
echo "e2e: b equals a ($rows rows of bulk), no conflict; $cut kills cut a transaction short"
echo "e2e_peer_crash: OK"
