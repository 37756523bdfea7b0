#!/usr/bin/env bash
# e2e_peer_mesh.sh
#    Three masters in a full mesh (six walapply links, sources read with
#    origin=none) under a concurrent random workload with deliberate
#    conflicts on every node: the same hot rows updated everywhere, inserts
#    and deletes of the same keys, update/delete races and inserts of
#    different keys racing on a secondary unique key.  Meanwhile links are killed with SIGKILL at
#    random moments and restarted, and node b's server is restarted
#    (immediate: a crash, losing whatever its asynchronous commits had not
#    flushed) mid-stream.  Once quiet:
#      * the three nodes hold identical contents (table digests);
#      * every event row (one per workload transaction) is on every node
#        exactly once and no event ever met a conflict: nothing was applied
#        twice and no change came back (no loops);
#      * every increment of the counters table (delta apply) counts exactly
#        once on every node;
#      * every node's conflict log holds a row for each conflict its links
#        resolved.
#
#    usage: e2e_peer_mesh.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_peer_lib.sh"
# Counters: every increment counts, on every node (delta apply).
PEER_TARGET_EXTRA="&delta.public.counters=n"

NODES="a b c"
peer_start a 55483
peer_start b 55484
peer_start c 55485
SCHEMA="CREATE TABLE acc (id int PRIMARY KEY, v int NOT NULL, note text);
        CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL UNIQUE, name text);
        CREATE TABLE events (node text, seq int, payload text, PRIMARY KEY (node, seq));
        CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
        ALTER TABLE counters REPLICA IDENTITY FULL;
        ALTER TABLE acc REPLICA IDENTITY FULL;
        ALTER TABLE users REPLICA IDENTITY FULL;"
for n in $NODES; do
	peer_psql $n -c "$SCHEMA"
done
LINKS="a-b a-c b-a b-c c-a c-b"
peer_links "$LINKS"
peer_psql a -c "INSERT INTO acc SELECT g, 0, 'init' FROM generate_series(1, 100) g"
peer_psql a -c "INSERT INTO counters SELECT g, 0 FROM generate_series(1, 5) g"
peer_wait_converged 30 a b c
echo "e2e: initial rows on all three nodes"

TXNS=150
# workload NODE SEED: TXNS transactions in two halves; node b's server is
# restarted between its halves (by the main script, which waits for the
# marker file).
make_load()
{
	local node=$1 seed=$2 from=$3 to=$4 k id base
	# Users: each node its own ids, e-mail addresses from one shared pool.
	case $node in a) base=100 ;; b) base=200 ;; *) base=300 ;; esac
	RANDOM=$seed
	for k in $(seq "$from" "$to"); do
		id=$((RANDOM % 15 + 1))
		echo "BEGIN;
INSERT INTO events VALUES ('$node', $k, md5('$node$k'));
UPDATE acc SET v = v + 1, note = '$node$k' WHERE id = $id;
UPDATE counters SET n = n + 1 WHERE id = $((RANDOM % 5 + 1));
INSERT INTO acc VALUES ($((RANDOM % 40 + 1000)), $k, '$node') ON CONFLICT DO NOTHING;
DELETE FROM acc WHERE id = $((RANDOM % 40 + 1000));
UPDATE acc SET v = -$k WHERE id = $((RANDOM % 40 + 1000));
INSERT INTO users VALUES ($((RANDOM % 20 + base)), 'u$((RANDOM % 30))@example.org', '$node') ON CONFLICT DO NOTHING;
COMMIT;"
	done
}
workload()
{
	local node=$1 seed=$2
	make_load "$node" "$seed" 1 $((TXNS / 2)) >"$PEER_WORK/load1-$node.sql"
	make_load "$node" $((seed + 1)) $((TXNS / 2 + 1)) "$TXNS" >"$PEER_WORK/load2-$node.sql"
	peer_psql "$node" -f "$PEER_WORK/load1-$node.sql" >/dev/null
	touch "$PEER_WORK/half-$node"
	until [ -f "$PEER_WORK/go-$node" ]; do sleep 0.05; done
	peer_psql "$node" -f "$PEER_WORK/load2-$node.sql" >/dev/null
}
for n in $NODES; do
	touch "$PEER_WORK/go-$n"
done
rm -f "$PEER_WORK/go-b"
workload a 101 &
PA=$!
workload b 202 &
PB=$!
workload c 303 &
PC=$!

# Kill links while the workload runs.
RANDOM=7
kills=0
for i in 1 2 3 4 5 6; do
	sleep "0.$((RANDOM % 5 + 2))"
	set -- $LINKS
	shift $((RANDOM % 6))
	l=$1
	kill -9 "${PEER_LINK_PID[$l]}" 2>/dev/null || true
	wait "${PEER_LINK_PID[$l]}" 2>/dev/null || true
	kills=$((kills + 1))
	echo "e2e: kill -9 of link $l"
	peer_link "${l%-*}" "${l#*-}"
	if [ $i = 3 ]; then
		until [ -f "$PEER_WORK/half-b" ]; do sleep 0.05; done
		echo "e2e: restarting node b (immediate)"
		pgcluster_as_user "$PGBIN/pg_ctl" -D "${PEER_DIR[b]}/data" -l "${PEER_DIR[b]}/server.log" \
			-m immediate -w restart >/dev/null
		touch "$PEER_WORK/go-b"
	fi
done
touch "$PEER_WORK/go-b"
wait $PA || fail "workload on a failed"
wait $PB || fail "workload on b failed"
wait $PC || fail "workload on c failed"
echo "e2e: workload done ($kills links killed)"

# Links that gave up while b was down are started again.
for l in $LINKS; do
	if ! kill -0 "${PEER_LINK_PID[$l]}" 2>/dev/null; then
		wait "${PEER_LINK_PID[$l]}" 2>/dev/null || true
		echo "e2e: link $l had stopped: $(grep -v NOTICE "$PEER_WORK/link-$l.log" | tail -n 1)"
		peer_link "${l%-*}" "${l#*-}"
	fi
done
peer_wait_converged 120 a b c
for n in $NODES; do
	ev=$(peer_psql $n -c "SELECT count(*) FROM events")
	[ "$ev" = $((3 * TXNS)) ] || fail "node $n holds $ev event rows, not $((3 * TXNS))"
	sum=$(peer_psql $n -c "SELECT sum(n) FROM counters")
	[ "$sum" = $((3 * TXNS)) ] || fail "node $n counted $sum increments, not $((3 * TXNS)) (lost or applied twice)"
	echoes=$(peer_psql $n -c "SELECT count(*) FROM wal2proto.conflicts WHERE relation = 'public.events'")
	[ "$echoes" = 0 ] || fail "node $n logged $echoes conflicts on events: a change was applied twice or came back"
	echo "e2e: node $n: $ev events, $(peer_psql $n -c "SELECT count(*) FROM wal2proto.conflicts") conflicts logged"
done
for l in $LINKS; do
	peer_unlink "${l%-*}" "${l#*-}"
done
grep -q 'reconnecting in' "$PEER_WORK"/link-*.log || fail "no link had to reconnect to a restarted node"
echo "e2e_peer_mesh: OK"
