#!/usr/bin/env bash
# e2e_peer_policies.sh
#    Every resolution policy on the same four conflicts, one link a -> b with
#    a table per policy (resolution.SCHEMA.TABLE target parameters):
#      row 1  update/update, the remote update is the later one
#      row 2  update/update, the local update is the later one
#      row 3  insert/insert of the same key, the remote insert later
#      row 4  deleted here, then updated later on the remote
#    The exact rows afterwards and the resolution logged for each conflict
#    are checked per policy.  Then policy "error": the link stops before the
#    transaction with a message naming the way to skip it, b is unchanged and
#    the slot stays behind; after the advised pg_replication_origin_advance
#    the link starts again and goes on with the next transaction.  Last, a
#    conninfo-spelled target with the node names given by --source-node and
#    --node.
#
#    usage: e2e_peer_policies.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_peer_lib.sh"

peer_start a 55486
peer_start b 55487
POLICIES="last_update_wins first_update_wins apply_remote keep_local error"
schema=""
params=""
for p in $POLICIES; do
	schema+="CREATE TABLE t_$p (id int PRIMARY KEY, v text);"
	params+="&resolution.public.t_$p=$p"
done
peer_psql a -c "$schema"
peer_psql b -c "$schema"
peer_slot a b
peer_link a b "$params"
for p in $POLICIES; do
	peer_psql a -c "INSERT INTO t_$p VALUES (1, 'init'), (2, 'init'), (4, 'init')"
done
peer_wait_converged 30 a b
peer_unlink a b

for p in last_update_wins first_update_wins apply_remote keep_local; do
	peer_psql b -c "BEGIN; UPDATE t_$p SET v = 'b' WHERE id = 1; INSERT INTO t_$p VALUES (3, 'b');
	                DELETE FROM t_$p WHERE id = 4; COMMIT;"
	peer_psql a -c "BEGIN; UPDATE t_$p SET v = 'a' WHERE id IN (1, 2, 4); INSERT INTO t_$p VALUES (3, 'a');
	                COMMIT;"
	peer_psql b -c "UPDATE t_$p SET v = 'b' WHERE id = 2"
done
peer_link a b "$params"
MARK=$(peer_psql a -c "INSERT INTO t_error VALUES (100, 'mark') RETURNING id")
for _ in $(seq 1 120); do
	[ "$(peer_psql b -c "SELECT count(*) FROM t_error WHERE id = 100")" = 1 ] && break
	sleep 0.25
done
[ "$(peer_psql b -c "SELECT count(*) FROM t_error WHERE id = $MARK")" = 1 ] || fail "the link did not catch up"

check()
{
	local p=$1 rows=$2 resolutions=$3 got
	got=$(peer_psql b -c "SELECT string_agg(id || '=' || v, ' ' ORDER BY id) FROM t_$p")
	[ "$got" = "$rows" ] || fail "$p: rows on b are \"$got\", expected \"$rows\""
	got=$(peer_psql b -c "SELECT string_agg(remote_row->>'id' || ':' || conflict_type || ':' || resolution, ' '
	                             ORDER BY remote_row->>'id')
	                        FROM wal2proto.conflicts WHERE relation = 'public.t_$p'")
	[ "$got" = "$resolutions" ] || fail "$p: conflicts logged on b are \"$got\", expected \"$resolutions\""
	echo "e2e: $p: $rows"
}
check last_update_wins "1=a 2=b 3=a 4=a" \
	"1:update_origin_differs:apply_remote 2:update_origin_differs:keep_local 3:insert_exists:apply_remote 4:update_deleted:apply_remote"
check first_update_wins "1=b 2=a 3=b" \
	"1:update_origin_differs:keep_local 2:update_origin_differs:apply_remote 3:insert_exists:keep_local 4:update_deleted:keep_local"
check apply_remote "1=a 2=a 3=a 4=a" \
	"1:update_origin_differs:apply_remote 2:update_origin_differs:apply_remote 3:insert_exists:apply_remote 4:update_deleted:apply_remote"
check keep_local "1=b 2=b 3=b" \
	"1:update_origin_differs:keep_local 2:update_origin_differs:keep_local 3:insert_exists:keep_local 4:update_deleted:keep_local"

# Policy error: the link stops before the transaction and says how to skip it.
peer_unlink a b
peer_psql b -c "UPDATE t_error SET v = 'b' WHERE id = 1"
peer_psql a -c "UPDATE t_error SET v = 'a' WHERE id = 1"
peer_psql a -c "INSERT INTO t_error VALUES (101, 'after')"
: >"$PEER_WORK/link-a-b.log"
peer_link a b "$params"
pid=${PEER_LINK_PID[a-b]}
rc=0
for _ in $(seq 1 120); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.25
done
wait "$pid" || rc=$?
unset "PEER_LINK_PID[a-b]"
[ $rc = 1 ] || fail "walapply did not stop with status 1 on a conflict under policy error (status $rc)"
msg=$(grep 'resolution is "error"' "$PEER_WORK/link-a-b.log") || fail "no error message naming the policy"
echo "$msg" | grep -q 'update_origin_differs conflict on table public.t_error' || fail "message: $msg"
skip=$(echo "$msg" | grep -o "SELECT pg_replication_origin_advance('wal2proto_a', '[0-9A-F]*/[0-9A-F]*')") ||
	fail "the message gives no way to skip the transaction: $msg"
[ "$(peer_psql b -c "SELECT v FROM t_error WHERE id = 1")" = b ] || fail "b changed under policy error"
[ "$(peer_psql b -c "SELECT count(*) FROM t_error WHERE id = 101")" = 0 ] || fail "b went past the stopped transaction"
[ "$(peer_psql b -c "SELECT count(*) FROM wal2proto.conflicts WHERE relation = 'public.t_error'")" = 0 ] ||
	fail "an unresolved conflict was logged as resolved"
echo "e2e: error: the link stopped; skipping with: $skip"
peer_psql b -c "$skip" >/dev/null
peer_link a b "$params"
for _ in $(seq 1 120); do
	[ "$(peer_psql b -c "SELECT count(*) FROM t_error WHERE id = 101")" = 1 ] && break
	sleep 0.25
done
[ "$(peer_psql b -c "SELECT string_agg(id || '=' || v, ' ' ORDER BY id) FROM t_error")" = "1=b 2=init 4=init 100=mark 101=after" ] ||
	fail "t_error on b after the skip: $(peer_psql b -c "SELECT string_agg(id || '=' || v, ' ' ORDER BY id) FROM t_error")"
peer_unlink a b

# The conninfo spelling of a target, with the node names from the flags.
peer_psql a -c "INSERT INTO t_error VALUES (102, 'flags')"
END=$(peer_psql a -c "SELECT pg_current_wal_lsn()")
"$WALAPPLY" -d "$(peer_conn a)" -S to_b --start -v -E "$END" -o origin=none \
	--source-node a --node b \
	--target "postgresql:host=127.0.0.1 port=${PEER_PORT[b]} user=postgres dbname=postgres" \
	2>"$PEER_WORK/flags.log" || fail "walapply with --source-node/--node failed: $(tail -n 2 "$PEER_WORK/flags.log")"
grep -q 'link a->b with origin wal2proto_a' "$PEER_WORK/flags.log" || fail "the flags did not name the link"
[ "$(peer_psql b -c "SELECT v FROM t_error WHERE id = 102")" = flags ] || fail "the conninfo target did not apply"
echo "e2e: conninfo target with --source-node/--node"
echo "e2e_peer_policies: OK"
