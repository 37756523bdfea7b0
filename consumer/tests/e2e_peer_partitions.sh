#!/usr/bin/env bash
# e2e_peer_partitions.sh
#    Two masters replicating a partitioned table both ways through walapply.
#
#    Changes arrive as changes of the partitions.  Tombstones of all the
#    partitions of a tree are kept under its root, whether the DELETE named
#    the partitioned table or one partition (row trigger, cloned to every
#    partition), so that with both links stopped:
#      an update meets a newer delete made directly on a partition,
#      a delete made directly on a partition meets a newer update,
#      an insert meets a newer delete of its key on a partition, and
#      a delete through the partitioned table meets a newer update made on
#      the partition,
#    and once the links run again both nodes hold what last_update_wins
#    gives, with exactly the expected conflicts logged on each node.  Then a
#    concurrent random workload on both nodes (updates through the table and
#    through partitions, deletes aimed at partitions, inserts) must leave
#    both nodes equal.
#
#    usage: e2e_peer_partitions.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_peer_lib.sh"

peer_start a 55488
peer_start b 55489
SCHEMA="CREATE TABLE m (region int, id int, v int NOT NULL, note text,
                        PRIMARY KEY (region, id)) PARTITION BY LIST (region);
        CREATE TABLE m_1 PARTITION OF m FOR VALUES IN (1);
        CREATE TABLE m_2 PARTITION OF m FOR VALUES IN (2);"
peer_two_way "$SCHEMA"

peer_psql a -c "INSERT INTO m SELECT 1 + (g > 10)::int, g, 0, 'init' FROM generate_series(1, 20) g"
peer_wait_converged 30 a b
echo "e2e: initial rows replicated"

# ---- conflicts -------------------------------------------------------------
peer_unlink a b
peer_unlink b a
peer_psql a <<'SQL'
UPDATE m SET v = 10, note = 'a' WHERE region = 1 AND id = 1;  -- update, newer delete on m_1
DELETE FROM m_1 WHERE id = 2;                                 -- delete on m_1, newer update
INSERT INTO m VALUES (2, 600, 6, 'a');                        -- insert, newer delete on m_2
DELETE FROM m WHERE region = 2 AND id = 13;                   -- delete through m, newer update
SQL
sleep 0.01
peer_psql b <<'SQL'
DELETE FROM m_1 WHERE id = 1;
UPDATE m_1 SET v = 99, note = 'b' WHERE id = 2;
INSERT INTO m_2 VALUES (2, 600, 7, 'b');
DELETE FROM m_2 WHERE id = 600;
UPDATE m_2 SET v = 33, note = 'b' WHERE id = 13;
SQL
# Each node's own deletes left their tombstones under m, the root.
for n in a b; do
	[ "$(peer_psql $n -c "SELECT count(*) FROM wal2proto.tombstones WHERE relid <> 'm'::regclass")" = 0 ] ||
		fail "node $n keeps tombstones under a partition: $(peer_psql $n -c "SELECT relid::regclass, key FROM wal2proto.tombstones")"
done
peer_link a b
peer_link b a
peer_wait_converged 30 a b

expect_rows="1|2|99|b
2|13|33|b"
got_rows=$(peer_psql a -c "SELECT region, id, v, note FROM m WHERE id IN (1, 2, 13, 600) ORDER BY id")
peer_expect "rows after the conflicts" "$got_rows" "$expect_rows"

expect_a="public.m_1|delete_origin_differs|apply_remote|1|t|b
public.m_1|update_deleted|apply_remote|2|t|b
public.m_2|update_deleted|apply_remote|13|t|b
public.m_2|insert_exists|apply_remote|600|t|b"
expect_b="public.m_1|update_deleted|keep_local|1|t|a
public.m_1|delete_origin_differs|keep_local|2|t|a
public.m_2|delete_origin_differs|keep_local|13|t|a
public.m_2|insert_deleted|keep_local|600|t|a"
peer_expect "conflicts logged on a" "$(peer_conflicts a)" "$expect_a"
peer_expect "conflicts logged on b" "$(peer_conflicts b)" "$expect_b"
echo "e2e: conflicts: rows and conflict logs as expected on both nodes"

# ---- concurrent workload -----------------------------------------------------
workload()
{
	local node=$1 seed=$2 k r
	RANDOM=$seed
	for k in $(seq 1 200); do
		r=$((RANDOM % 2 + 1))
		echo "BEGIN;
UPDATE m SET v = v + 1, note = '$node$k' WHERE region = $r AND id = $((RANDOM % 20 + 1));
UPDATE m_$r SET v = v + 1, note = '$node$k' WHERE id = $((RANDOM % 20 + 1));
DELETE FROM m_$r WHERE id = $((RANDOM % 40 + 100));
INSERT INTO m VALUES ($r, $((RANDOM % 40 + 100)), $k, '$node') ON CONFLICT DO NOTHING;
COMMIT;"
	done >"$PEER_WORK/load-$node.sql"
	peer_psql "$node" -f "$PEER_WORK/load-$node.sql" >/dev/null
}
peer_both workload 5 6
peer_wait_converged 90 a b
peer_unlink a b
peer_unlink b a
echo "e2e: concurrent workload: both nodes equal ($(peer_psql a -c "SELECT count(*) FROM m") rows)"
echo "e2e_peer_partitions: OK"
