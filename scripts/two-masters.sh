#!/usr/bin/env bash
# two-masters.sh
#    The main job on a local default: two PostgreSQL masters, "a" and "b",
#    both writable, replicating both ways through walapply: a topology file
#    names them, `walapply init` prepares both nodes and `walapply run
#    --all` runs the two links.  A text target (the SQL file of everything a
#    committed) runs beside them as a single-link walapply.  A small
#    concurrent workload makes conflicts on purpose; once it is quiet the
#    script shows the conflict log and checks that the two nodes hold the
#    same rows.
#
#    Usage: sudo scripts/two-masters.sh [--keep] [--port PORT] [--no-build]
#
#      --keep       leave both clusters and both walapply links running
#      --port PORT  node a listens on 127.0.0.1:PORT, node b on PORT+1
#                   (default 55424)
#      --no-build   skip installing dependencies and building
#
#    Run as root on Debian 12: packages are installed, the plugin goes into
#    the PostgreSQL installation and the clusters run as the postgres user.
#    Exits non-zero if the nodes do not agree.

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=true
keep=false
port=55424
build_dir=${BUILD_DIR:-$repo/build}

while [ $# -gt 0 ]; do
	case $1 in
		--keep) keep=true ;;
		--no-build) build=false ;;
		--port)
			port=${2:?--port needs a value}
			shift
			;;
		-h | --help)
			sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
			exit 0
			;;
		*)
			echo "two-masters.sh: unknown argument \"$1\" (see --help)" >&2
			exit 2
			;;
	esac
	shift
done

# shellcheck source=pgcluster.sh
source "$repo/scripts/pgcluster.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/wal2proto-two-masters.XXXXXX")
chmod 755 "$work"
declare -A node_port node_dir link_pid

say()
{
	echo
	echo "== $*"
}

cleanup()
{
	local rc=$? k
	if $keep && [ $rc -eq 0 ]; then
		return
	fi
	for k in "${!link_pid[@]}"; do
		kill -TERM "${link_pid[$k]}" 2>/dev/null || true
		wait "${link_pid[$k]}" 2>/dev/null || true
	done
	for k in "${!node_dir[@]}"; do
		pgcluster_stop "${node_dir[$k]}" || true
	done
	if [ $rc -ne 0 ]; then
		echo "two-masters.sh: failed; logs kept in $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

build_all()
{
	say "installing dependencies, building and installing wal2proto and walapply"
	"$repo/scripts/install-deps.sh"
	make -C "$repo" -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
	make -C "$repo" install >/dev/null
	cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build_dir" -j"$(nproc 2>/dev/null || echo 2)" --target walapply >/dev/null
}

conn()
{
	echo "host=127.0.0.1 port=${node_port[$1]} user=postgres dbname=postgres"
}

node_psql()
{
	local name=$1
	shift
	"$(pgcluster_bindir)/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 \
		-p "${node_port[$name]}" -U postgres -d postgres "$@"
}

start_node()
{
	local name=$1 p=$2
	pgcluster_start "$p" >/dev/null
	node_port[$name]=$p
	node_dir[$name]=$PGCLUSTER_DIR
	node_psql "$name" <<'SQL'
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric(12,2) NOT NULL);
CREATE TABLE events (id bigint PRIMARY KEY, node text NOT NULL, what text NOT NULL);
SQL
	echo "node $name: $(conn "$name")"
}

# The topology: both nodes, every table of schema public.
write_topology()
{
	cat >"$work/topology.yaml" <<EOF
nodes:
  a: "$(conn a)"
  b: "$(conn b)"
resolution: last_update_wins
tables:
  include: [public.*]
EOF
	cat "$work/topology.yaml"
}

# Every link of the topology (a -> b and b -> a, each read with
# origin=none: what a node receives from its peer is never sent back).
run_mesh()
{
	local bin=$build_dir/consumer/walapply
	"$bin" init -c "$work/topology.yaml"
	"$bin" run -c "$work/topology.yaml" --all -v 2>"$work/run.log" &
	link_pid[mesh]=$!
	echo "walapply run --all: pid ${link_pid[mesh]} (log $work/run.log)"
}

# The text target: a's own transactions (origin=none) as SQL, through a
# single-link walapply on a slot of its own.
run_text_target()
{
	local bin=$build_dir/consumer/walapply
	"$bin" -d "$(conn a)" -S a_to_text --create-slot --if-not-exists
	"$bin" -d "$(conn a)" -S a_to_text --start -v -o origin=none \
		-o 'exclude-tables=wal2proto.*' --target "file:$work/a.sql" \
		2>"$work/text.log" &
	link_pid[text]=$!
	echo "a -> file:$work/a.sql: walapply pid ${link_pid[text]} (log $work/text.log)"
}

workload()
{
	say "workload: both nodes write at once, on the same keys"
	node_psql a -c "INSERT INTO accounts SELECT g, 'owner ' || g, 100 FROM generate_series(1, 20) g"
	sleep 2
	(
		for i in $(seq 1 40); do
			node_psql a -c "UPDATE accounts SET balance = balance + 1, owner = 'a$i' WHERE id = $((i % 20 + 1)); INSERT INTO events VALUES ($i, 'a', 'a$i')"
		done
	) &
	local wa=$!
	(
		for i in $(seq 1 40); do
			node_psql b -c "UPDATE accounts SET balance = balance - 1, owner = 'b$i' WHERE id = $((i % 20 + 1)); INSERT INTO events VALUES ($((1000 + i)), 'b', 'b$i')"
		done
	) &
	local wb=$!
	wait $wa $wb
	# The same new key inserted on both nodes, and an update racing a
	# delete: each transaction stays open a moment so that both commit
	# locally before either sees the other's change.  (Wait on these pids
	# only: the walapply links are children too.)
	node_psql a -c "BEGIN" -c "INSERT INTO accounts VALUES (100, 'inserted on a', 1)" \
		-c "SELECT pg_sleep(0.5)" -c "COMMIT" >/dev/null &
	wa=$!
	node_psql b -c "BEGIN" -c "INSERT INTO accounts VALUES (100, 'inserted on b', 2)" \
		-c "SELECT pg_sleep(0.5)" -c "COMMIT" >/dev/null &
	wb=$!
	wait $wa $wb
	node_psql a -c "BEGIN" -c "UPDATE accounts SET owner = 'updated on a' WHERE id = 5" \
		-c "SELECT pg_sleep(0.5)" -c "COMMIT" >/dev/null &
	wa=$!
	node_psql b -c "BEGIN" -c "DELETE FROM accounts WHERE id = 5" \
		-c "SELECT pg_sleep(0.5)" -c "COMMIT" >/dev/null &
	wb=$!
	wait $wa $wb
}

digest()
{
	node_psql "$1" -At -c "
	  SELECT 'accounts ' || count(*) || ' ' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), ''))
	    FROM accounts x
	  UNION ALL
	  SELECT 'events ' || count(*) || ' ' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), ''))
	    FROM events x"
}

converge()
{
	local i streak=0
	say "waiting until the nodes agree"
	for i in $(seq 1 240); do
		if [ "$(digest a)" = "$(digest b)" ]; then
			streak=$((streak + 1))
			if [ $streak -ge 4 ]; then
				return 0
			fi
		else
			streak=0
		fi
		sleep 0.25
	done
	echo "node a:" && digest a
	echo "node b:" && digest b
	node_psql a -c "SELECT * FROM accounts ORDER BY id" >"$work/accounts.a"
	node_psql b -c "SELECT * FROM accounts ORDER BY id" >"$work/accounts.b"
	diff "$work/accounts.a" "$work/accounts.b" || true
	node_psql a -c "SELECT * FROM wal2proto.conflicts ORDER BY id" >"$work/conflicts.a"
	node_psql b -c "SELECT * FROM wal2proto.conflicts ORDER BY id" >"$work/conflicts.b"
	echo "two-masters.sh: the nodes did not converge within 60 s" >&2
	return 1
}

report()
{
	say "conflicts resolved on node a (wal2proto.conflicts)"
	node_psql a -c "SELECT conflict_type, resolution, count(*) FROM wal2proto.conflicts GROUP BY 1, 2 ORDER BY 1, 2"
	say "conflicts resolved on node b"
	node_psql b -c "SELECT conflict_type, resolution, count(*) FROM wal2proto.conflicts GROUP BY 1, 2 ORDER BY 1, 2"
	say "digests (rows and md5 per table)"
	echo "node a: $(digest a | tr '\n' ' ')"
	echo "node b: $(digest b | tr '\n' ' ')"
	say "a few rows, identical on both nodes"
	node_psql a -c "SELECT * FROM accounts WHERE id IN (1, 5, 100) ORDER BY id"
	node_psql b -c "SELECT * FROM accounts WHERE id IN (1, 5, 100) ORDER BY id"
	say "text target: the last transaction node a committed, as SQL ($work/a.sql)"
	tail -n 8 "$work/a.sql"
	say "the nodes agree"
	if $keep; then
		echo "still running: node a $(conn a), node b $(conn b); walapply run pid ${link_pid[mesh]} (stop it with kill -TERM), text target pid ${link_pid[text]}"
	fi
}

main()
{
	if $build; then
		build_all
	fi
	say "starting two masters"
	start_node a "$port"
	start_node b $((port + 1))
	say "the topology ($work/topology.yaml)"
	write_topology
	say "walapply init: settings checked, extension, origins and slots installed"
	run_mesh
	run_text_target
	workload
	converge
	report
}

main
