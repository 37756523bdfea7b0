#!/usr/bin/env bash
# e2e_peer.sh
#    Two masters replicating both ways through walapply (postgresql://
#    targets, sources read with origin=none).
#
#    Phase 1, deliberate conflicts: with both links stopped, each scenario
#    changes the same rows on a and then on b (so b's changes are the later
#    ones); the links start again and, once quiet, both nodes must hold the
#    rows last_update_wins gives, and wal2proto.conflicts on each node must
#    hold exactly the conflicts expected, with their resolutions:
#      update/update, insert/insert (same key), delete then newer update,
#      update then newer delete, insert/insert on a secondary unique key,
#      delete/delete, an insert of a key deleted later on the other node,
#      updates of two rows racing for the same secondary unique value, and
#      an update meeting a newer local write of the very values of its old
#      row (REPLICA IDENTITY FULL: equal values, yet not the same version).
#    Phase 2: a concurrent random workload on both nodes while the links
#    run; once quiet the table digests are equal, every event row was
#    applied exactly once on the other node (no loops: an echo would be an
#    insert_exists conflict on the event table), every concurrent increment
#    of the counters table counts on both nodes (delta apply), and the
#    conflicts each link counted are exactly the rows in its node's log.
#
#    With "pair", both links run with applied_tombstones=off (the setting
#    of a two-node topology: deletes a link applies leave no tombstone), and
#    everything above must hold all the same.
#
#    usage: e2e_peer.sh PATH_TO_WALAPPLY [pair]

source "$(dirname "$0")/e2e_peer_lib.sh"
# Counters: every increment counts, on every node (delta apply).
PEER_TARGET_EXTRA="&delta.public.counters=n"
if [ "${2:-}" = pair ]; then
	PEER_TARGET_EXTRA+="&applied_tombstones=off"
fi

peer_start a 55480
peer_start b 55481
SCHEMA="CREATE TABLE acc (id int PRIMARY KEY, v int NOT NULL, note text);
        CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL UNIQUE, name text);
        CREATE TABLE events (node text, seq int, payload text, PRIMARY KEY (node, seq));
        CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
        ALTER TABLE counters REPLICA IDENTITY FULL;
        ALTER TABLE acc REPLICA IDENTITY FULL;
        ALTER TABLE users REPLICA IDENTITY FULL;"
peer_two_way "$SCHEMA"

# Initial rows, written on a only and replicated to b.
peer_psql a -c "INSERT INTO acc SELECT g, 0, 'init' FROM generate_series(1, 100) g"
peer_psql a -c "INSERT INTO counters SELECT g, 0 FROM generate_series(1, 5) g"
peer_psql a -c "INSERT INTO users VALUES (3, 'p@example.org', 'init'), (4, 'q@example.org', 'init')"
peer_wait_converged 30 a b
echo "e2e: initial rows replicated"

# ---- phase 1 -------------------------------------------------------------
peer_unlink a b
peer_unlink b a
peer_psql a <<'SQL'
UPDATE acc SET v = 10, note = 'a' WHERE id = 1;          -- update/update
INSERT INTO acc VALUES (500, 1, 'a');                     -- insert/insert
DELETE FROM acc WHERE id = 2;                             -- delete, newer update
UPDATE acc SET v = 77, note = 'a' WHERE id = 3;           -- update, newer delete
INSERT INTO users VALUES (1, 'x@example.org', 'from a');  -- secondary unique key
DELETE FROM acc WHERE id = 4;                             -- delete/delete
INSERT INTO acc VALUES (600, 6, 'a');                     -- insert, later deleted on b
UPDATE users SET email = 'r@example.org' WHERE id = 3;     -- updates racing on a unique key
UPDATE acc SET v = 55, note = 'a' WHERE id = 5;           -- update, newer rewrite of equal values
SQL
sleep 0.01
peer_psql b <<'SQL'
UPDATE acc SET v = 20, note = 'b' WHERE id = 1;
INSERT INTO acc VALUES (500, 2, 'b');
UPDATE acc SET v = 99, note = 'b' WHERE id = 2;
DELETE FROM acc WHERE id = 3;
INSERT INTO users VALUES (2, 'x@example.org', 'from b');
DELETE FROM acc WHERE id = 4;
INSERT INTO acc VALUES (600, 7, 'b');
DELETE FROM acc WHERE id = 600;
UPDATE users SET email = 'r@example.org' WHERE id = 4;
UPDATE acc SET v = 0, note = 'init' WHERE id = 5;
SQL
peer_link a b
peer_link b a
peer_wait_converged 30 a b

expect_rows="1|20|b
2|99|b
5|0|init
500|2|b
users 2|x@example.org|from b
4|r@example.org|init"
got_rows="$(peer_psql a -c "SELECT id, v, note FROM acc WHERE id IN (1, 2, 3, 4, 5, 500, 600) ORDER BY id")
users $(peer_psql a -c "SELECT * FROM users ORDER BY id")"
peer_expect "rows after phase 1" "$got_rows" "$expect_rows"

expect_a="public.acc|update_origin_differs|apply_remote|1|t|b
public.acc|update_deleted|apply_remote|2|t|b
public.acc|delete_origin_differs|apply_remote|3|t|b
public.acc|delete_missing|skip|4|t|b
public.acc|update_origin_differs|apply_remote|5|t|b
public.acc|insert_exists|apply_remote|500|t|b
public.acc|insert_exists|apply_remote|600|t|b
public.users|insert_exists|apply_remote|2|t|b
public.users|update_exists|apply_remote|4|t|b"
expect_b="public.acc|update_origin_differs|keep_local|1|t|a
public.acc|delete_origin_differs|keep_local|2|t|a
public.acc|update_deleted|keep_local|3|t|a
public.acc|delete_missing|skip|4|t|a
public.acc|update_origin_differs|keep_local|5|t|a
public.acc|insert_exists|keep_local|500|t|a
public.acc|insert_deleted|keep_local|600|t|a
public.users|insert_exists|keep_local|1|t|a
public.users|update_exists|keep_local|3|t|a"
peer_expect "conflicts logged on a" "$(peer_conflicts a)" "$expect_a"
peer_expect "conflicts logged on b" "$(peer_conflicts b)" "$expect_b"
# Tombstones of another origin: those the deletes a link applied leave
# through the trigger (on a: acc 3 and 600, and users 1 and 3, rows that
# lost to b's rows on the e-mail key; on b: users 3, likewise), and those
# walapply writes itself (a delete of a missing row, acc 4 on a; a remote
# insert that loses to another key's row, users 1 on b).  With
# applied_tombstones=off only the latter.
remote_tombstones()
{
	peer_psql "$1" -c "SELECT string_agg(relid::regclass || ' ' || key, ', ' ORDER BY relid::regclass::text, key)
	                     FROM wal2proto.tombstones
	                    WHERE (pg_xact_commit_timestamp_origin(xmin)).roident <> 0"
}
if [ "${2:-}" = pair ]; then
	expect_tombs="acc (4) | users (1)"
else
	expect_tombs="acc (3), acc (4), acc (600), users (1), users (3) | users (1), users (3)"
fi
got_tombs="$(remote_tombstones a) | $(remote_tombstones b)"
[ "$got_tombs" = "$expect_tombs" ] ||
	fail "tombstones of other origins on a | b: $got_tombs, expected $expect_tombs"
echo "e2e: phase 1: rows, conflict logs and tombstones as expected on both nodes"

# ---- phase 2 -------------------------------------------------------------
# Each node: 300 transactions of random updates of a hot set of 20 rows,
# inserts and deletes of keys in a shared range, inserts of users with
# different ids racing on e-mail addresses, and one event row per
# transaction.
workload()
{
	local node=$1 seed=$2 k id base
	# Users: each node its own ids, e-mail addresses from one shared pool.
	base=100
	[ "$node" = b ] && base=200
	RANDOM=$seed
	for k in $(seq 1 300); do
		id=$((RANDOM % 20 + 1))
		echo "BEGIN;
INSERT INTO events VALUES ('$node', $k, md5('$node$k'));
UPDATE acc SET v = v + 1, note = '$node$k' WHERE id = $id;
UPDATE counters SET n = n + 1 WHERE id = $((RANDOM % 5 + 1));
INSERT INTO acc VALUES ($((RANDOM % 60 + 1000)), $k, '$node') ON CONFLICT DO NOTHING;
DELETE FROM acc WHERE id = $((RANDOM % 60 + 1000));
INSERT INTO users VALUES ($((RANDOM % 20 + base)), 'u$((RANDOM % 30))@example.org', '$node') ON CONFLICT DO NOTHING;
COMMIT;"
	done >"$PEER_WORK/load-$node.sql"
	peer_psql "$node" -f "$PEER_WORK/load-$node.sql" >/dev/null
}
peer_both workload 11 22
peer_wait_converged 90 a b
for n in a b; do
	ev=$(peer_psql $n -c "SELECT count(*) FROM events")
	[ "$ev" = 600 ] || fail "node $n holds $ev event rows, not 600"
	sum=$(peer_psql $n -c "SELECT sum(n) FROM counters")
	[ "$sum" = 600 ] || fail "node $n counted $sum increments, not 600"
	loops=$(peer_psql $n -c "SELECT count(*) FROM wal2proto.conflicts WHERE relation = 'public.events'")
	[ "$loops" = 0 ] || fail "node $n logged $loops conflicts on events: a change came back"
done
peer_unlink a b
peer_unlink b a
for l in a-b b-a; do
	dst=${l#*-}
	counted=$( (grep -o '[0-9]* conflicts$' "$PEER_WORK/link-$l.log" || true) | awk '{s += $1} END {print s + 0}')
	logged=$(peer_psql "$dst" -c "SELECT count(*) FROM wal2proto.conflicts WHERE link = '$(echo $l | sed 's/-/->/')'")
	[ "$counted" = "$logged" ] || fail "link $l counted $counted conflicts but $dst logged $logged"
	echo "e2e: link $l: $logged conflicts, all logged"
done
echo "e2e_peer: OK"
