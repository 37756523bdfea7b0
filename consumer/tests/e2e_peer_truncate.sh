#!/usr/bin/env bash
# e2e_peer_truncate.sh
#    TRUNCATE between two masters replicating both ways through walapply.
#
#    A TRUNCATE deletes every row older than itself, on every node, and
#    leaves a tombstone of the whole table (or partition): with both links
#    stopped, a inserts and updates rows of tr and of partition pm_1, then b
#    truncates tr and pm_1, then a inserts again.  Once the links run:
#      - a's older insert and update do not bring rows back on b
#        (insert_deleted, update_deleted: keep_local),
#      - a's newer inserts stay on a (the truncate meets them there:
#        delete_origin_differs, keep_local) and arrive on b (an insert newer
#        than the tombstone: no conflict),
#      - rows a wrote before and b truncated knowingly go without a conflict,
#      - the other partition, pm_2, is untouched, its new row included,
#    and both nodes hold the same rows, with exactly these conflicts logged.
#
#    usage: e2e_peer_truncate.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_peer_lib.sh"

peer_start a 55470
peer_start b 55471
SCHEMA="CREATE TABLE tr (id int PRIMARY KEY, v int NOT NULL, note text);
        CREATE TABLE pm (region int, id int, v int NOT NULL, note text,
                         PRIMARY KEY (region, id)) PARTITION BY LIST (region);
        CREATE TABLE pm_1 PARTITION OF pm FOR VALUES IN (1);
        CREATE TABLE pm_2 PARTITION OF pm FOR VALUES IN (2);"
peer_two_way "$SCHEMA"

peer_psql a -c "INSERT INTO tr SELECT g, 0, 'init' FROM generate_series(1, 5) g"
peer_psql a -c "INSERT INTO pm SELECT 1 + (g > 3)::int, g, 0, 'init' FROM generate_series(1, 6) g"
peer_wait_converged 30 a b
echo "e2e: initial rows replicated"

peer_unlink a b
peer_unlink b a
peer_psql a <<'SQL'
INSERT INTO tr VALUES (10, 1, 'a');                         -- older than the truncate
UPDATE tr SET v = 7, note = 'a' WHERE id = 1;               -- older than the truncate
UPDATE pm SET v = 7, note = 'a' WHERE region = 1 AND id = 1; -- older than pm_1's truncate
INSERT INTO pm VALUES (2, 50, 1, 'a');                      -- pm_2: not truncated
SQL
sleep 0.01
peer_psql b -c "TRUNCATE tr" -c "TRUNCATE pm_1"
sleep 0.01
peer_psql a <<'SQL'
INSERT INTO tr VALUES (20, 2, 'a');                         -- newer than the truncate
INSERT INTO pm VALUES (1, 60, 2, 'a');                      -- newer than pm_1's truncate
SQL
peer_link a b
peer_link b a
peer_wait_converged 30 a b

expect_rows="tr 20|2|a
pm 1|60|2|a
2|4|0|init
2|5|0|init
2|6|0|init
2|50|1|a"
got_rows="tr $(peer_psql a -c "SELECT * FROM tr ORDER BY id")
pm $(peer_psql a -c "SELECT * FROM pm ORDER BY region, id")"
peer_expect "rows after the truncates" "$got_rows" "$expect_rows"

expect_a="public.pm_1|delete_origin_differs|keep_local|60|t|b
public.tr|delete_origin_differs|keep_local|20|t|b"
expect_b="public.pm_1|update_deleted|keep_local|1|t|a
public.tr|update_deleted|keep_local|1|t|a
public.tr|insert_deleted|keep_local|10|t|a"
peer_expect "conflicts logged on a" "$(peer_conflicts a)" "$expect_a"
peer_expect "conflicts logged on b" "$(peer_conflicts b)" "$expect_b"
peer_unlink a b
peer_unlink b a
echo "e2e_peer_truncate: OK"
