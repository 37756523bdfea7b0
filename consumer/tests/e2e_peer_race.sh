#!/usr/bin/env bash
# e2e_peer_race.sh
#    Two links into one node racing on one key.  Node c inserts a key; link
#    c->a brings it to a, where it is deleted (or updated) at once; link a->b
#    brings that newer change to b while link c->b is still inserting the
#    key there (a trigger on b holds c's insert open for two seconds).  The
#    change from a must wait for the insert to commit and then meet the row
#    (delete_origin_differs, update_origin_differs), not find it missing:
#    a delete that found no row would leave a tombstone, the insert would
#    commit behind it, and b would keep a row that a and c deleted.
#
#    And a node's own delete racing with a link's older insert: node b
#    deletes its row of a key and holds its transaction open while link a->b
#    inserts a's older row of the key, which waits for b's delete on the
#    key.  The insert must then find b's tombstone (insert_deleted), not go
#    in behind it: b would keep a row that a and c deleted.
#
#    Each with the insert of one row (a pipelined INSERT, or the careful
#    path) and of a run of 100 rows (COPY).  Once quiet, the three nodes
#    hold identical contents, the exact rows, and each node's conflict log
#    the exact conflicts.
#
#    usage: e2e_peer_race.sh PATH_TO_WALAPPLY on|off  (the links' pipeline)

source "$(dirname "$0")/e2e_peer_lib.sh"
MODE=${2:?usage: $0 PATH_TO_WALAPPLY on|off}
PEER_TARGET_EXTRA="&pipeline=$MODE"

NODES="a b c"
peer_start a 55493
peer_start b 55494
peer_start c 55495
for n in $NODES; do
	peer_psql $n -c "CREATE TABLE t1 (id int PRIMARY KEY, v text);
	                 CREATE TABLE t2 (id int PRIMARY KEY, v text);
	                 CREATE TABLE t3 (id int PRIMARY KEY, v text);
	                 CREATE TABLE t4 (id int PRIMARY KEY, v text);
	                 CREATE TABLE t5 (id int PRIMARY KEY, v text);"
done
# On b, an insert of a row whose v is 'slow' takes two seconds to commit,
# in walapply's sessions too (ENABLE ALWAYS).
peer_psql b -c "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
                 \$\$ BEGIN IF NEW.v = 'slow' THEN PERFORM pg_sleep(2); END IF; RETURN NULL; END \$\$;"
for t in t1 t2 t3; do
	peer_psql b -c "CREATE TRIGGER slow AFTER INSERT ON $t FOR EACH ROW EXECUTE FUNCTION slow();
	                ALTER TABLE $t ENABLE ALWAYS TRIGGER slow;"
done
LINKS="a-b a-c b-a b-c c-a c-b"
peer_links "$LINKS"

# wait_rows NODE SQL COUNT: until SQL (a count) gives COUNT on NODE.
wait_rows()
{
	local i
	for i in $(seq 1 200); do
		[ "$(peer_psql "$1" -c "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	fail "node $1: $2 did not reach $3"
}

# race TABLE INSERT_SQL CHANGE_SQL: c runs INSERT_SQL (whose rows include
# one with v = 'slow'); once a has them, and c->b's insert is under way on
# b, a runs CHANGE_SQL.  a->b's change must wait for c->b's insert on the
# insert lock.
race()
{
	local table=$1 insert=$2 change=$3 n
	peer_psql c -c "$insert"
	n=$(peer_psql c -c "SELECT count(*) FROM $table")
	wait_rows a "SELECT count(*) FROM $table" "$n"
	# c->b's insert is under way on b (in the trigger's sleep).
	wait_rows b "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" 1
	peer_psql a -c "$change"
	peer_saw_waiter b advisory || fail "$table: a->b's change did not wait for c->b's insert"
	# Done on b once a->b's change has met the row (or, were it to miss it,
	# logged it missing): the nodes may agree before, while c->b's insert
	# is not committed.
	wait_rows b "SELECT count(*) FROM wal2proto.conflicts
	              WHERE relation = 'public.$table' AND remote_origin = 'a'" 1
	peer_wait_converged 30 a b c
	echo "e2e: $table: a->b's change waited for c->b's insert; the nodes agree"
}

# local_race TABLE INSERT_SQL KEY: with link a->b stopped, a runs
# INSERT_SQL (its rows include KEY); once c has them, b inserts its own row
# of KEY (newer), then deletes it in a transaction held open for two
# seconds, during which link a->b starts again: its insert of a's row of KEY
# waits for b's delete.
local_race()
{
	local table=$1 insert=$2 key=$3 n waited pdel
	peer_unlink a b
	peer_psql a -c "$insert"
	n=$(peer_psql a -c "SELECT count(*) FROM $table")
	wait_rows c "SELECT count(*) FROM $table" "$n"
	peer_psql b -c "INSERT INTO $table VALUES ($key, 'b')"
	wait_rows a "SELECT count(*) FROM $table WHERE v = 'b'" 1
	wait_rows c "SELECT count(*) FROM $table WHERE v = 'b'" 1
	peer_psql b -c "BEGIN; DELETE FROM $table WHERE id = $key; SELECT pg_sleep(2); COMMIT;" >/dev/null &
	pdel=$!
	wait_rows b "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'" 1
	peer_link a b
	waited=0
	peer_saw_waiter b transactionid && waited=1
	wait $pdel || fail "$table: b's delete failed"
	[ $waited = 1 ] || fail "$table: a->b's insert did not wait for b's delete"
	# Done on b once a->b's insert has met b's tombstone: the nodes agree
	# before, while it is applied again.
	wait_rows b "SELECT count(*) FROM wal2proto.conflicts
	              WHERE relation = 'public.$table' AND remote_origin = 'a'" 1
	peer_wait_converged 30 a b c
	echo "e2e: $table: a->b's insert waited for b's delete; the nodes agree"
}

race t1 "INSERT INTO t1 VALUES (1, 'slow')" "DELETE FROM t1 WHERE id = 1"
race t2 "INSERT INTO t2 VALUES (2, 'slow')" "UPDATE t2 SET v = 'a' WHERE id = 2"
race t3 "INSERT INTO t3 SELECT g, CASE g WHEN 100 THEN 'slow' ELSE 'c' END
           FROM generate_series(100, 199) g" "DELETE FROM t3 WHERE id = 150"

local_race t4 "INSERT INTO t4 VALUES (4, 'a')" 4
local_race t5 "INSERT INTO t5 SELECT g, 'a' FROM generate_series(400, 499) g" 450

for n in $NODES; do
	peer_expect "rows on $n" "$(peer_psql $n -c "SELECT (SELECT count(*) FROM t1) || ' ' ||
	                                                    (SELECT string_agg(id || ':' || v, ',') FROM t2) || ' ' ||
	                                                    (SELECT count(*) FROM t3 WHERE id <> 150 AND
	                                                            v = CASE id WHEN 100 THEN 'slow' ELSE 'c' END) || ' ' ||
	                                                    (SELECT count(*) FROM t4) || ' ' ||
	                                                    (SELECT count(*) FROM t5 WHERE id <> 450 AND v = 'a')")" \
		"0 2:a 99 0 99"
done
# t1-t3: a changed versions that came from c (no conflict on a); b and c
# meet a's newer change on c's row, and apply it.  t4, t5: b's row of the
# key is newer than a's on a and c; on b, a's row meets b's tombstone.
peer_expect "conflicts on a" "$(peer_conflicts a)" \
	"public.t4|insert_exists|apply_remote|4|t|b
public.t5|insert_exists|apply_remote|450|t|b"
peer_expect "conflicts on b" "$(peer_conflicts b)" \
	"public.t1|delete_origin_differs|apply_remote|1|t|a
public.t2|update_origin_differs|apply_remote|2|t|a
public.t3|delete_origin_differs|apply_remote|150|t|a
public.t4|insert_deleted|keep_local|4|t|a
public.t5|insert_deleted|keep_local|450|t|a"
peer_expect "conflicts on c" "$(peer_conflicts c)" \
	"public.t1|delete_origin_differs|apply_remote|1|t|a
public.t2|update_origin_differs|apply_remote|2|t|a
public.t3|delete_origin_differs|apply_remote|150|t|a
public.t4|insert_exists|apply_remote|4|t|b
public.t5|insert_exists|apply_remote|450|t|b"
for l in $LINKS; do
	peer_unlink "${l%-*}" "${l#*-}"
done
echo "e2e_peer_race: OK"
