# e2e_peer_lib.sh
#    Shared helpers of the peer (many-master) end-to-end tests (sourced,
#    bash).
#
#    peer_start NAME PORT starts a throw-away cluster (scripts/pgcluster.sh)
#    for node NAME; peer_link SRC DST runs walapply from SRC's slot into DST
#    (origin=none, so DST never sends SRC's changes back); everything is
#    stopped on exit.  The walapply binary is the test's first argument.

set -euo pipefail

PEER_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PEER_ROOT=$(cd "$PEER_HERE/../.." && pwd)
WALAPPLY=${1:?usage: $0 PATH_TO_WALAPPLY}
WALAPPLY=$(cd "$(dirname "$WALAPPLY")" && pwd)/$(basename "$WALAPPLY")
# shellcheck source=/dev/null
source "$PEER_ROOT/scripts/pgcluster.sh"
PGBIN=$(pgcluster_bindir)

PEER_WORK=$(mktemp -d "${TMPDIR:-/tmp}/walapply-peer.XXXXXX")
declare -A PEER_PORT PEER_DIR PEER_LINK_PID

peer_cleanup()
{
	local rc=$?
	local k
	for k in "${!PEER_LINK_PID[@]}"; do
		kill -9 "${PEER_LINK_PID[$k]}" 2>/dev/null || true
	done
	for k in "${!PEER_DIR[@]}"; do
		if [ $rc -ne 0 ] && [ -f "${PEER_DIR[$k]}/server.log" ]; then
			echo "---- server log of $k (tail) ----" >&2
			tail -n 20 "${PEER_DIR[$k]}/server.log" >&2 || true
		fi
		pgcluster_stop "${PEER_DIR[$k]}" || true
	done
	if [ $rc -eq 0 ]; then
		rm -rf "$PEER_WORK"
	else
		for k in "$PEER_WORK"/link-*.log; do
			[ -f "$k" ] || continue
			echo "---- $(basename "$k") (tail) ----" >&2
			tail -n 15 "$k" >&2
		done
		echo "e2e: FAILED (rc $rc); work files kept in $PEER_WORK" >&2
	fi
	exit $rc
}
trap peer_cleanup EXIT

fail()
{
	echo "e2e: FAIL: $*" >&2
	exit 1
}

# peer_start NAME PORT: a cluster on PORT, or on PORT + 10 when PORT is taken
# (a concurrent run of the same test).
peer_start()
{
	local name=$1 port=$2 p
	for p in "$port" $((port + 10)); do
		if "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$p" -t 1 >/dev/null 2>&1; then
			continue
		fi
		if pgcluster_start "$p"; then
			PEER_PORT[$name]=$p
			PEER_DIR[$name]=$PGCLUSTER_DIR
			return 0
		fi
	done
	fail "could not start node $name on port $port or $((port + 10))"
}

peer_conn()
{
	pgcluster_conninfo "${PEER_PORT[$1]}"
}

# peer_psql NAME [psql args...]
peer_psql()
{
	local name=$1
	shift
	pgcluster_query "${PEER_PORT[$name]}" "$@"
}

# peer_slot SRC DST: the slot on SRC that feeds DST.
peer_slot()
{
	"$WALAPPLY" -d "$(peer_conn "$1")" -S "to_$2" --create-slot >/dev/null 2>&1 ||
		fail "could not create slot to_$2 on $1"
}

# peer_link SRC DST [target parameters]: starts walapply SRC -> DST
# (PEER_TARGET_EXTRA: parameters for every link).
peer_link()
{
	local src=$1 dst=$2 extra=${3:-}
	"$WALAPPLY" -d "$(peer_conn "$src")" -S "to_$dst" --start -s 1 -v -o origin=none \
		--target "postgresql://127.0.0.1:${PEER_PORT[$dst]}/postgres?user=postgres&source=$src&node=$dst${PEER_TARGET_EXTRA:-}$extra" \
		2>>"$PEER_WORK/link-$src-$dst.log" &
	PEER_LINK_PID[$src-$dst]=$!
}

# peer_links "SRC-DST ...": the slots of the links, then the links.
peer_links()
{
	local l
	for l in $1; do
		peer_slot "${l%-*}" "${l#*-}"
	done
	for l in $1; do
		peer_link "${l%-*}" "${l#*-}"
	done
}

# peer_saw_waiter NODE LOCKTYPE: whether, within 1.5 s, a session on NODE
# waits for a lock of LOCKTYPE (pg_locks).
peer_saw_waiter()
{
	local i
	for i in $(seq 1 30); do
		[ "$(peer_psql "$1" -c "SELECT count(*) FROM pg_locks
		                         WHERE locktype = '$2' AND NOT granted")" != 0 ] && return 0
		sleep 0.05
	done
	return 1
}

# peer_unlink SRC DST: stops the link cleanly (SIGTERM).
peer_unlink()
{
	local pid=${PEER_LINK_PID[$1-$2]}
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" || fail "walapply $1->$2 did not stop cleanly: $(tail -n 3 "$PEER_WORK/link-$1-$2.log")"
	unset "PEER_LINK_PID[$1-$2]"
}

# peer_two_way SCHEMA: nodes a and b (started) get SCHEMA, and the links
# a -> b and b -> a start.
peer_two_way()
{
	local n
	for n in a b; do
		peer_psql $n -c "$1"
	done
	peer_slot a b
	peer_slot b a
	peer_link a b
	peer_link b a
}

# peer_both FUNCTION SEED_A SEED_B: runs "FUNCTION a SEED_A" and "FUNCTION b
# SEED_B" at once (a workload on each node); fails if either fails.
peer_both()
{
	local fn=$1 pa pb
	"$fn" a "$2" &
	pa=$!
	"$fn" b "$3" &
	pb=$!
	wait $pa || fail "$fn on a failed"
	wait $pb || fail "$fn on b failed"
}

# peer_conflicts NAME: node NAME's conflict log, one line per conflict:
# relation|type|resolution|row id|local origin known|remote origin (the row
# id is the remote row's, or the local row's for a change that carries
# none, such as a truncate), ordered by relation, id and type.
peer_conflicts()
{
	peer_psql "$1" -c "SELECT relation, conflict_type, resolution,
	                          coalesce(remote_row->>'id', local_row->>'id', '-'),
	                          local_origin IS NOT NULL, remote_origin
	                     FROM wal2proto.conflicts
	                    ORDER BY relation, coalesce(remote_row->>'id', local_row->>'id')::int,
	                             conflict_type"
}

# peer_expect WHAT GOT EXPECTED: fails, showing both, unless they are equal.
peer_expect()
{
	[ "$2" = "$3" ] || fail "$1:
$2
expected:
$3"
}

# Digest of every table of schema public, one line per table.
peer_digest()
{
	peer_psql "$1" <<'SQL'
DO $$
DECLARE r record;
BEGIN
  CREATE TEMP TABLE digests(tbl text, n bigint, md5 text);
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1 LOOP
    EXECUTE format('INSERT INTO digests SELECT %L, count(*), md5(coalesce(string_agg(x::text, E''\n'' ORDER BY x::text), '''')) FROM public.%I x',
                   r.relname, r.relname);
  END LOOP;
END $$;
SELECT tbl || ' ' || n || ' ' || md5 FROM digests ORDER BY tbl;
SQL
}

# peer_wait_converged SECONDS NODE...: until every node has the digests of
# the first, three polls in a row (a quarter second apart).
peer_wait_converged()
{
	local limit=$1
	shift
	local first=$1 n i ok streak=0
	for i in $(seq 1 $((limit * 4))); do
		ok=1
		peer_digest "$first" >"$PEER_WORK/digest.$first"
		for n in "$@"; do
			[ "$n" = "$first" ] && continue
			peer_digest "$n" >"$PEER_WORK/digest.$n"
			cmp -s "$PEER_WORK/digest.$first" "$PEER_WORK/digest.$n" || ok=0
		done
		if [ $ok = 1 ]; then
			streak=$((streak + 1))
			[ $streak -ge 3 ] && return 0
		else
			streak=0
		fi
		sleep 0.25
	done
	for n in "$@"; do
		echo "--- digest of $n" >&2
		cat "$PEER_WORK/digest.$n" >&2
		peer_psql "$n" -c "SELECT * FROM users ORDER BY id" >"$PEER_WORK/users.$n" 2>/dev/null || true
	done
	fail "nodes $* did not converge within $limit s"
}
