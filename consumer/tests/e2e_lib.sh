# e2e_lib.sh
#    Shared helpers of walapply's end-to-end tests (sourced, bash).
#
#    Each test starts its own throw-away cluster with scripts/pgcluster.sh
#    on its own port, runs walapply (the binary is the test's first
#    argument) and checks what it wrote.  The cluster is stopped on exit,
#    whatever happens.

set -euo pipefail

E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_ROOT=$(cd "$E2E_HERE/../.." && pwd)
WALAPPLY=${1:?usage: $0 PATH_TO_WALAPPLY}
WALAPPLY=$(cd "$(dirname "$WALAPPLY")" && pwd)/$(basename "$WALAPPLY")
# shellcheck source=/dev/null
source "$E2E_ROOT/scripts/pgcluster.sh"
PGBIN=$(pgcluster_bindir)

E2E_WORK=$(mktemp -d "${TMPDIR:-/tmp}/walapply-e2e.XXXXXX")
E2E_PIDS=()

e2e_cleanup()
{
	local rc=$?
	local pid
	for pid in "${E2E_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
	done
	if [ -n "${PGCLUSTER_DIR:-}" ]; then
		if [ $rc -ne 0 ] && [ -f "$PGCLUSTER_LOG" ]; then
			echo "---- server log (tail) ----" >&2
			tail -n 30 "$PGCLUSTER_LOG" >&2 || true
		fi
		pgcluster_stop || true
	fi
	if [ $rc -eq 0 ]; then
		rm -rf "$E2E_WORK"
	else
		echo "e2e: FAILED (rc $rc); work files kept in $E2E_WORK" >&2
	fi
	exit $rc
}
trap e2e_cleanup EXIT

fail()
{
	echo "e2e: FAIL: $*" >&2
	exit 1
}

# e2e_start PORT [CONF...]: a source cluster with a "replay" database.  PORT
# is tried first, then the rest of 55450-55459 (another run of the suite on
# the same machine may hold it).
e2e_start()
{
	local want=$1 port
	shift
	for port in "$want" $(seq 55450 55459); do
		if pgcluster_start "$port" "$@" 2>"$E2E_WORK/pgcluster.err"; then
			CONN="$PGCLUSTER_CONNSTR"
			"$PGBIN/createdb" -h 127.0.0.1 -p "$PGCLUSTER_PORT" -U postgres replay
			return 0
		fi
	done
	cat "$E2E_WORK/pgcluster.err" >&2
	fail "could not start a cluster on any port of 55450-55459"
}

# psql on the source database, or on DB with e2e_psql_db DB ...
e2e_psql()
{
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p "$PGCLUSTER_PORT" \
		-U postgres -d postgres "$@"
}
e2e_psql_db()
{
	local db=$1
	shift
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -At -h 127.0.0.1 -p "$PGCLUSTER_PORT" \
		-U postgres -d "$db" "$@"
}

# Digest of every table of schema public, one line per table: the md5 of
# its rows' text forms, sorted (duplicates count).
e2e_digest()
{
	local db=$1
	e2e_psql_db "$db" <<'SQL'
DO $$
DECLARE r record; d text; out text := '';
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

# The current WAL write position of the source.
e2e_wal_lsn()
{
	e2e_psql -c "SELECT pg_current_wal_lsn()"
}

# Replays a .sql file into a database (psql -v ON_ERROR_STOP=1).
e2e_replay()
{
	local file=$1 db=$2
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGCLUSTER_PORT" \
		-U postgres -d "$db" -f "$file" >/dev/null
}

# Compares the digests of the source database and another one.
e2e_compare()
{
	local db=$1
	e2e_digest postgres >"$E2E_WORK/digest.src"
	e2e_digest "$db" >"$E2E_WORK/digest.$db"
	if ! diff -u "$E2E_WORK/digest.src" "$E2E_WORK/digest.$db" >&2; then
		fail "table digests of the source and $db differ"
	fi
	echo "e2e: $(wc -l <"$E2E_WORK/digest.src") tables equal in postgres and $db"
}

# Each transaction of a file exactly once, in commit order, every one
# complete (file_check.py once).
e2e_check_once()
{
	python3 "$E2E_HERE/file_check.py" once "$1" || fail "$1 fails the exactly-once check"
}
