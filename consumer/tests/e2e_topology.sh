#!/usr/bin/env bash
# e2e_topology.sh
#    The topology sub-commands on real clusters:
#      (a) init on a node with wal_level = replica, track_commit_timestamp =
#          off, output_plugin_libraries without wal2proto and too few
#          replication slots, and on a node that is down, reports each
#          missing setting and the unreachable node (exact text) and changes
#          nothing on any node;
#      (b) init on three good nodes creates the extension, the origins and
#          the slots (exact names); a second init changes nothing;
#      (c) a replicated table with no primary key and no replica identity
#          is refused by init and by run, naming it; excluded by the
#          topology, it is accepted;
#      (d) run --all: concurrent writes on the three nodes with same-key
#          conflicts, tables keyed by REPLICA IDENTITY USING INDEX and FULL and a child killed with SIGKILL (restarted by the
#          supervisor) -> identical digests, every event and counter
#          increment once; SIGTERM to the supervisor -> every child exits 0
#          and no process is left;
#      (e) run --node, once per node (three supervisors) -> converges too;
#          SIGHUP reaches the children; SIGINT stops like SIGTERM.
#
#    usage: e2e_topology.sh PATH_TO_WALAPPLY

source "$(dirname "$0")/e2e_peer_lib.sh"

# start_misconfigured NAME PORT CONF_LINE...: as peer_start, with extra
# postgresql.conf lines.
start_misconfigured()
{
	local name=$1 port=$2 p
	shift 2
	for p in "$port" $((port + 10)); do
		if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$p" -t 1 >/dev/null 2>&1; then
			continue
		fi
		if pgcluster_start "$p" "$@"; then
			PEER_PORT[$name]=$p
			PEER_DIR[$name]=$PGCLUSTER_DIR
			return 0
		fi
	done
	fail "could not start node $name on port $port or $((port + 10))"
}

# ---- (a) missing settings ----
peer_start a 56601
start_misconfigured bad 56600 'wal_level = replica' 'track_commit_timestamp = off' \
	"output_plugin_libraries = 'pgoutput'" 'max_replication_slots = 1'
# Nothing listens on the port of node "down".
down_port=56699
while "$PGBIN/pg_isready" -q -h 127.0.0.1 -p $down_port -t 1 >/dev/null 2>&1; do
	down_port=$((down_port - 1))
done
cat >"$PEER_WORK/bad.yaml" <<EOF
nodes:
  a: "$(peer_conn a)"
  bad: "$(peer_conn bad)"
  down: "host=127.0.0.1 port=$down_port user=postgres connect_timeout=5"
EOF
rc=0
"$WALAPPLY" init -c "$PEER_WORK/bad.yaml" >"$PEER_WORK/init-bad.out" 2>"$PEER_WORK/init-bad.err" || rc=$?
[ $rc = 1 ] || fail "init on a misconfigured node exited with $rc, not 1"
cat >"$PEER_WORK/init-bad.expected" <<EOF
node bad: wal_level is "replica"; set wal_level = logical and restart
node bad: track_commit_timestamp is "off"; set track_commit_timestamp = on and restart
node bad: output_plugin_libraries is "pgoutput"; add wal2proto to it and restart
node bad: max_replication_slots is 1; needs at least 4 (2 for the slots of its outgoing links, 2 for the replication origins of its incoming links) and a restart
node down: could not connect: connection to server at "127.0.0.1", port $down_port failed: Connection refused Is the server running on that host and accepting TCP/IP connections?
walapply: init: 5 problems found; nothing was changed
EOF
grep -v 'mongoc' "$PEER_WORK/init-bad.err" >"$PEER_WORK/init-bad.got" || true
diff -u "$PEER_WORK/init-bad.expected" "$PEER_WORK/init-bad.got" ||
	fail "init did not report the missing settings as expected"
[ "$(peer_psql a -c "SELECT count(*) FROM pg_replication_slots") $(peer_psql a -c "SELECT count(*) FROM pg_extension WHERE extname = 'wal2proto'")" = "0 0" ] ||
	fail "init changed node a although node bad failed its checks"
pgcluster_stop "${PEER_DIR[bad]}"
unset "PEER_DIR[bad]"
echo "e2e: (a) init reports every missing setting and an unreachable node, and changes nothing"

# ---- (b) init on three nodes ----
peer_start b 56602
peer_start c 56603
NODES="a b c"
SCHEMA="CREATE TABLE acc (id int PRIMARY KEY, v int NOT NULL, note text);
        CREATE TABLE events (node text, seq int, payload text, PRIMARY KEY (node, seq));
        CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL);
        ALTER TABLE counters REPLICA IDENTITY FULL;
        ALTER TABLE acc REPLICA IDENTITY FULL;
        CREATE TABLE byindex (k int NOT NULL, v text);
        CREATE UNIQUE INDEX byindex_k ON byindex (k);
        ALTER TABLE byindex REPLICA IDENTITY USING INDEX byindex_k;
        CREATE TABLE keyless_full (v text);
        ALTER TABLE keyless_full REPLICA IDENTITY FULL;
        CREATE UNLOGGED TABLE scratch (v text);"
for n in $NODES; do
	peer_psql $n -c "$SCHEMA"
done
TOPO=$PEER_WORK/mesh.yaml
cat >"$TOPO" <<EOF
# three masters, full mesh
nodes:
  a: "$(peer_conn a)"
  b: "postgresql://127.0.0.1:${PEER_PORT[b]}/postgres?user=postgres"
  c: "$(peer_conn c)"
resolution: last_update_wins
tables:
  include: [public.*]
  exclude: [public.audit]
  delta: {public.counters: [n]}
tombstone_retention: 3600
EOF
"$WALAPPLY" init -c "$TOPO" >"$PEER_WORK/init1.out" 2>"$PEER_WORK/init1.err" ||
	fail "init on three good nodes failed: $(cat "$PEER_WORK/init1.err")"
tail -n 1 "$PEER_WORK/init1.out" | grep -qx 'init: 3 nodes ready, 6 links' ||
	fail "init did not end with its summary: $(tail -n 1 "$PEER_WORK/init1.out")"
check_installed()
{
	local n got want
	for n in $NODES; do
		got=$(peer_psql $n -c "SELECT (SELECT string_agg(extname, ',') FROM pg_extension WHERE extname = 'wal2proto')
		  || ' ' || (SELECT string_agg(slot_name || ':' || plugin || ':' || slot_type, ',' ORDER BY slot_name) FROM pg_replication_slots)
		  || ' ' || (SELECT string_agg(roname, ',' ORDER BY roname) FROM pg_replication_origin)")
		case $n in
			a) want="wal2proto wal2proto_a_to_b:wal2proto:logical,wal2proto_a_to_c:wal2proto:logical wal2proto_b,wal2proto_c" ;;
			b) want="wal2proto wal2proto_b_to_a:wal2proto:logical,wal2proto_b_to_c:wal2proto:logical wal2proto_a,wal2proto_c" ;;
			c) want="wal2proto wal2proto_c_to_a:wal2proto:logical,wal2proto_c_to_b:wal2proto:logical wal2proto_a,wal2proto_b" ;;
		esac
		[ "$got" = "$want" ] || fail "node $n after init: \"$got\", expected \"$want\""
	done
}
check_installed
[ "$(grep -c ' created' "$PEER_WORK/init1.out")" = 12 ] ||
	fail "the first init did not create 6 origins and 6 slots: $(cat "$PEER_WORK/init1.out")"
"$WALAPPLY" init -c "$TOPO" >"$PEER_WORK/init2.out" 2>"$PEER_WORK/init2.err" ||
	fail "a second init failed: $(cat "$PEER_WORK/init2.err")"
check_installed
[ "$(grep -c ' created' "$PEER_WORK/init2.out") $(grep -c ' exists' "$PEER_WORK/init2.out")" = "0 12" ] ||
	fail "the second init did not find everything in place: $(cat "$PEER_WORK/init2.out")"
echo "e2e: (b) init creates the extension, 6 origins and 6 slots; a second init changes nothing"

# ---- (c) a table that cannot replicate ----
peer_psql b -c "CREATE TABLE nokey (x int, y text)"
REFUSED='node b: replicated table without a primary key, REPLICA IDENTITY FULL or USING INDEX: public.nokey; add a primary key, ALTER TABLE ... REPLICA IDENTITY FULL, or list it under tables.exclude'
rc=0
"$WALAPPLY" init -c "$TOPO" >/dev/null 2>"$PEER_WORK/init3.err" || rc=$?
[ $rc = 1 ] || fail "init with a keyless table exited with $rc, not 1"
printf '%s\n%s\n' "$REFUSED" "walapply: init: 1 problem found; nothing was changed" >"$PEER_WORK/init3.expected"
grep -v mongoc "$PEER_WORK/init3.err" | diff -u "$PEER_WORK/init3.expected" - ||
	fail "init did not refuse the keyless table as expected"
rc=0
timeout 60 "$WALAPPLY" run -c "$TOPO" --all >/dev/null 2>"$PEER_WORK/run-refused.err" || rc=$?
[ $rc = 1 ] || fail "run with a keyless table exited with $rc, not 1"
printf '%s\n%s\n' "$REFUSED" "walapply: run: not started" >"$PEER_WORK/run3.expected"
grep -v mongoc "$PEER_WORK/run-refused.err" | diff -u "$PEER_WORK/run3.expected" - ||
	fail "run did not refuse the keyless table as expected"
sed 's|exclude: \[public.audit\]|exclude: [public.audit, public.nokey]|' "$TOPO" >"$PEER_WORK/excluded.yaml"
"$WALAPPLY" init -c "$PEER_WORK/excluded.yaml" >/dev/null 2>"$PEER_WORK/init4.err" ||
	fail "init refused the keyless table although the topology excludes it: $(cat "$PEER_WORK/init4.err")"
peer_psql b -c "DROP TABLE nokey"
echo "e2e: (c) a keyless table is refused by init and run, and accepted once excluded"

# ---- (d) run --all ----
TXNS=150
# make_load NODE SEED FROM TO: transactions FROM..TO of NODE; hot rows of
# acc updated on every node, the same new keys inserted, deleted and
# updated everywhere, counters incremented; rows of the tables keyed by a
# unique index (byindex) and by their whole row (keyless_full) inserted,
# updated and deleted.  Every value a node writes is its own (k * 10 +
# node number): with REPLICA IDENTITY FULL the peer target takes an old row
# equal to the local one as the same version, so two nodes writing the same
# value into a row concurrently is a known limit, not what this tests.
make_load()
{
	local node=$1 seed=$2 from=$3 to=$4 k nodeno
	case $node in a) nodeno=1 ;; b) nodeno=2 ;; *) nodeno=3 ;; esac
	RANDOM=$seed
	for k in $(seq "$from" "$to"); do
		echo "BEGIN;
INSERT INTO events VALUES ('$node', $k, md5('$node$k'));
UPDATE acc SET v = v + 1, note = '$node$k' WHERE id = $((RANDOM % 10 + 1));
UPDATE counters SET n = n + 1 WHERE id = $((RANDOM % 5 + 1));
INSERT INTO acc VALUES ($((RANDOM % 30 + 1000)), $((k * 10 + nodeno)), '$node') ON CONFLICT DO NOTHING;
DELETE FROM acc WHERE id = $((RANDOM % 30 + 1000));
UPDATE acc SET v = -$((k * 10 + nodeno)) WHERE id = $((RANDOM % 30 + 1000));
INSERT INTO byindex VALUES ($k * 10 + $nodeno, '$node$k');
UPDATE byindex SET v = v || '+' WHERE k = ($k - 1) * 10 + $nodeno;
INSERT INTO keyless_full VALUES ('$node$k');
UPDATE keyless_full SET v = v || '+' WHERE v = '$node$((k - 1))';
DELETE FROM keyless_full WHERE v = '$node$((k - 5))+';
COMMIT;"
	done
}
# workload ROUND: every node runs its transactions at once.
workload()
{
	local round=$1 n pids=() seed=0 from=$((($1 - 1) * TXNS + 1)) to=$(($1 * TXNS))
	for n in $NODES; do
		seed=$((seed + 101 * round))
		make_load $n $seed $from $to >"$PEER_WORK/load$round-$n.sql"
	done
	# A workload transaction can deadlock with an applied one, as with
	# any concurrent writer: it rolls back whole (BEGIN ... COMMIT) and the
	# counts below only count what committed.
	for n in $NODES; do
		peer_psql $n -v ON_ERROR_STOP=0 -f "$PEER_WORK/load$round-$n.sql" >/dev/null 2>"$PEER_WORK/load$round-$n.err" &
		pids+=($!)
	done
	for n in "${pids[@]}"; do
		wait "$n" || fail "a workload of round $round failed"
	done
}
# check_counts: every event and counter increment committed on its own
# node is on every node exactly once (one of each per transaction).
check_counts()
{
	local n ev sum want=0
	for n in $NODES; do
		want=$((want + $(peer_psql $n -c "SELECT count(*) FROM events WHERE node = '$n'")))
	done
	COMMITTED=$want
	for n in $NODES; do
		ev=$(peer_psql $n -c "SELECT count(*) FROM events")
		[ "$ev" = $want ] || fail "node $n holds $ev event rows, not $want"
		sum=$(peer_psql $n -c "SELECT sum(n) FROM counters")
		[ "$sum" = $want ] || fail "node $n counted $sum increments, not $want (lost or applied twice)"
		[ "$(peer_psql $n -c "SELECT count(*) FROM byindex")" = $((want - ${AFTER_RESTART:-0})) ] ||
			fail "node $n holds $(peer_psql $n -c "SELECT count(*) FROM byindex") rows of byindex, not $((want - ${AFTER_RESTART:-0}))"
		[ "$(peer_psql $n -c "SELECT count(*) FROM wal2proto.conflicts WHERE relation = 'public.events'")" = 0 ] ||
			fail "node $n logged conflicts on events: a change was applied twice or came back"
	done
}
# converge SECONDS: peer_wait_converged on the three nodes; on failure the
# rows of every table and the conflict logs are kept in the work directory.
converge()
{
	local n t
	if ! (peer_wait_converged "$1" a b c); then
		for n in $NODES; do
			for t in acc byindex keyless_full counters; do
				peer_psql $n -c "SELECT * FROM $t ORDER BY 1" >"$PEER_WORK/rows.$t.$n" || true
			done
			peer_psql $n -c "SELECT * FROM wal2proto.conflicts ORDER BY id" >"$PEER_WORK/conflicts.$n" || true
		done
		for t in acc byindex keyless_full counters; do
			diff "$PEER_WORK/rows.$t.a" "$PEER_WORK/rows.$t.b" >&2 || true
			diff "$PEER_WORK/rows.$t.a" "$PEER_WORK/rows.$t.c" >&2 || true
		done
		fail "nodes a b c did not converge within $1 s"
	fi
}

# stop_supervisor NAME PID [SIGNAL]: SIGTERM (or SIGNAL), exit 0, and none
# of its children left.
stop_supervisor()
{
	local name=$1 pid=$2 sig=${3:-TERM} rc=0 kids k
	kids=$(sed -n 's/.*link .*: started walapply pid \([0-9]*\).*/\1/p' "$PEER_WORK/$name.log")
	[ -n "$kids" ] || fail "$name logged no started children"
	kill -"$sig" "$pid"
	wait "$pid" || rc=$?
	unset "PEER_LINK_PID[$name]"
	[ $rc = 0 ] || fail "$name exited with $rc after SIG$sig: $(tail -n 5 "$PEER_WORK/$name.log")"
	for k in $kids; do
		! kill -0 "$k" 2>/dev/null || fail "$name: child pid $k still runs after the supervisor stopped"
	done
	grep -q 'all links stopped$' "$PEER_WORK/$name.log" ||
		fail "$name did not report every link stopped cleanly"
}

"$WALAPPLY" run -c "$TOPO" --all -v 2>"$PEER_WORK/run-all.log" &
PEER_LINK_PID[run-all]=$!
peer_psql a -c "INSERT INTO acc SELECT g, 0, 'init' FROM generate_series(1, 10) g"
peer_psql a -c "INSERT INTO counters SELECT g, 0 FROM generate_series(1, 5) g"
peer_wait_converged 60 a b c
workload 1 &
load=$!
# A link killed mid-stream: the supervisor restarts it.
sleep 0.3
victim=$(sed -n 's/.*link b->c: started walapply pid \([0-9]*\).*/\1/p' "$PEER_WORK/run-all.log" | tail -n 1)
[ -n "$victim" ] || fail "run --all did not log the pid of link b->c"
kill -9 "$victim"
wait $load || fail "workload 1 failed"
for i in $(seq 1 100); do
	[ "$(grep -c 'link b->c: started walapply pid' "$PEER_WORK/run-all.log")" = 2 ] && break
	sleep 0.1
done
[ "$(grep -c 'link b->c: started walapply pid' "$PEER_WORK/run-all.log")" = 2 ] ||
	fail "link b->c was not started again (exactly once) after kill -9"
grep -q "link b->c: walapply pid $victim was killed by signal 9 (Killed); restarting in 1 s" "$PEER_WORK/run-all.log" ||
	fail "the supervisor did not report restarting the killed link"
# A transaction of b after the restart must reach c through the new child.
peer_psql b -c "BEGIN; INSERT INTO events VALUES ('b', 100000, 'after the restart'); UPDATE counters SET n = n + 1 WHERE id = 1; COMMIT"
AFTER_RESTART=1  # that transaction wrote no byindex row
converge 120
check_counts
for l in a-\>b a-\>c b-\>a b-\>c c-\>a c-\>b; do
	grep -q "^\[$l\] .*slot \"wal2proto_" "$PEER_WORK/run-all.log" ||
		fail "no log line of link $l prefixed with its name"
done
conflicts=0
for n in $NODES; do
	conflicts=$((conflicts + $(peer_psql $n -c "SELECT count(*) FROM wal2proto.conflicts")))
done
[ "$conflicts" -gt 0 ] || fail "the workload made no conflict"
stop_supervisor run-all "${PEER_LINK_PID[run-all]}"
[ "$(grep -c 'link .*: stopped$' "$PEER_WORK/run-all.log")" = 6 ] ||
	fail "not every link of run --all reported a clean stop"
echo "e2e: (d) run --all: $COMMITTED of $((3 * TXNS + 1)) transactions committed and converged ($conflicts conflicts logged), a killed link restarted, SIGTERM stopped all six cleanly"

# ---- (e) run --node, one supervisor per node ----
for n in $NODES; do
	"$WALAPPLY" run -c "$TOPO" --node $n -v 2>"$PEER_WORK/run-$n.log" &
	PEER_LINK_PID[run-$n]=$!
done
workload 2
converge 120
check_counts
# SIGHUP reaches both children of a supervisor (they reopen target files).
kill -HUP "${PEER_LINK_PID[run-a]}"
for i in $(seq 1 50); do
	[ "$(grep -c '^\[.->a\] .*SIGHUP: reopening target files' "$PEER_WORK/run-a.log")" = 2 ] && break
	sleep 0.1
done
[ "$(grep -c '^\[.->a\] .*SIGHUP: reopening target files' "$PEER_WORK/run-a.log")" = 2 ] ||
	fail "SIGHUP to run --node a did not reach both of its links"
for n in $NODES; do
	[ "$(grep -c "link .*->$n: started walapply pid" "$PEER_WORK/run-$n.log")" = 2 ] ||
		fail "run --node $n did not start the two links into $n"
done
# Stopped with SIGINT (as Ctrl-C), SIGTERM, SIGTERM.
stop_supervisor run-a "${PEER_LINK_PID[run-a]}" INT
stop_supervisor run-b "${PEER_LINK_PID[run-b]}"
stop_supervisor run-c "${PEER_LINK_PID[run-c]}"
echo "e2e: (e) run --node on each node: $COMMITTED of $((6 * TXNS + 1)) transactions committed in all, converged"
echo "e2e_topology: OK"
