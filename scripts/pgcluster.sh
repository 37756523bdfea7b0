#!/usr/bin/env bash
# pgcluster.sh
#    Start and stop throw-away PostgreSQL clusters for tests, demos and
#    benchmarks.
#
#    A cluster lives in a fresh temporary directory (data directory, log and
#    unix socket) owned by an unprivileged OS user: "postgres" when the caller
#    is root (initdb and postgres refuse to run as root), the caller
#    otherwise.  It listens on 127.0.0.1:PORT and on a unix socket in that
#    directory, is configured for logical decoding with wal2proto and the
#    peer plugins allowed, trusts every local and 127.0.0.1 connection
#    (replication included) and runs with fsync off.  Its superuser is
#    "postgres", so connect with
#        host=127.0.0.1 port=PORT user=postgres dbname=postgres
#
#    As a library (bash):
#        source scripts/pgcluster.sh
#        pgcluster_start PORT ['name = value' ...]   # extra postgresql.conf lines
#        pgcluster_psql -c 'select 1'                # psql on the last started cluster
#        pgcluster_stop                              # stop it, remove its directory
#    pgcluster_start sets PGCLUSTER_DIR, PGCLUSTER_DATA, PGCLUSTER_PORT,
#    PGCLUSTER_HOST, PGCLUSTER_SOCKDIR, PGCLUSTER_LOG and PGCLUSTER_CONNSTR;
#    several clusters can be started by saving those between calls and
#    passing the directory to pgcluster_stop DIR; pgcluster_conninfo PORT
#    and pgcluster_query PORT [psql args...] reach any of them.  The helpers
#    pgcluster_user, pgcluster_as_user CMD... and pgcluster_bindir are also
#    useful on their own.
#
#    As a command:
#        scripts/pgcluster.sh start PORT [--state FILE] ['name = value' ...]
#            prints the cluster directory; with --state, also records it in
#            FILE (stopping first any cluster FILE still names)
#        scripts/pgcluster.sh stop DIR | --state FILE
#
#    Environment: PG_CONFIG (default pg_config) picks the installation;
#    TMPDIR is where the temporary directories go.

# Options for a sourced library must not leak into the caller's shell, so
# every function checks its own errors instead of relying on set -e.

pgcluster_bindir()
{
	"${PG_CONFIG:-pg_config}" --bindir
}

# The OS user that owns and runs clusters.
pgcluster_user()
{
	if [ "$(id -u)" -eq 0 ]; then
		echo postgres
	else
		id -un
	fi
}

# Run a command as the cluster user, from a directory that user can enter.
pgcluster_as_user()
{
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u "$(pgcluster_user)" -- "$@")
	else
		"$@"
	fi
}

# pgcluster_start PORT [CONF_LINE ...]
pgcluster_start()
{
	local port=$1
	shift || true
	if [ -z "$port" ]; then
		echo "pgcluster_start: usage: pgcluster_start PORT ['name = value' ...]" >&2
		return 2
	fi

	local bindir user dir line
	bindir=$(pgcluster_bindir) || return 1
	user=$(pgcluster_user)

	if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 >/dev/null 2>&1; then
		echo "pgcluster_start: something already listens on 127.0.0.1:$port" >&2
		return 1
	fi

	dir=$(mktemp -d "${TMPDIR:-/tmp}/wal2proto-pg$port.XXXXXX") || return 1
	chmod 700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then
		chown "$user": "$dir" || return 1
	fi

	if ! pgcluster_as_user "$bindir/initdb" -D "$dir/data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
		>"$dir/initdb.log" 2>&1; then
		echo "pgcluster_start: initdb failed:" >&2
		cat "$dir/initdb.log" >&2
		rm -rf "$dir"
		return 1
	fi

	# Written by root or the user; the data directory stays the user's.
	pgcluster_as_user tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF

# --- pgcluster.sh ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
wal_level = logical
output_plugin_libraries = 'wal2proto, pgoutput, test_decoding, wal2json, decoderbufs'
max_replication_slots = 20
max_wal_senders = 20
max_prepared_transactions = 10
track_commit_timestamp = on
fsync = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%a '
CONF
	for line in "$@"; do
		echo "$line" | pgcluster_as_user tee -a "$dir/data/postgresql.conf" >/dev/null
	done

	pgcluster_as_user tee "$dir/data/pg_hba.conf" >/dev/null <<HBA
# TYPE  DATABASE     USER  ADDRESS        METHOD
local   all          all                  trust
local   replication  all                  trust
host    all          all   127.0.0.1/32   trust
host    replication  all   127.0.0.1/32   trust
HBA

	if ! pgcluster_as_user "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" \
		-w -t 60 start >/dev/null; then
		echo "pgcluster_start: server did not start; log follows" >&2
		cat "$dir/server.log" >&2
		pgcluster_as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
		rm -rf "$dir"
		return 1
	fi

	PGCLUSTER_DIR=$dir
	PGCLUSTER_DATA=$dir/data
	PGCLUSTER_LOG=$dir/server.log
	PGCLUSTER_PORT=$port
	PGCLUSTER_HOST=127.0.0.1
	PGCLUSTER_SOCKDIR=$dir
	PGCLUSTER_CONNSTR=$(pgcluster_conninfo "$port")
	return 0
}

# pgcluster_stop [DIR]: stop the cluster in DIR (default: the last started)
# and remove DIR.
pgcluster_stop()
{
	local dir=${1:-${PGCLUSTER_DIR:-}}
	local bindir
	if [ -z "$dir" ]; then
		echo "pgcluster_stop: no cluster directory" >&2
		return 2
	fi
	case "$dir" in
		*/wal2proto-pg*) ;;
		*)
			echo "pgcluster_stop: $dir is not a pgcluster.sh directory" >&2
			return 2
			;;
	esac
	bindir=$(pgcluster_bindir) || return 1
	if [ -f "$dir/data/postmaster.pid" ]; then
		pgcluster_as_user "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
			pgcluster_as_user "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1
	fi
	rm -rf "$dir"
	if [ "${PGCLUSTER_DIR:-}" = "$dir" ]; then
		unset PGCLUSTER_DIR PGCLUSTER_DATA PGCLUSTER_LOG PGCLUSTER_PORT \
			PGCLUSTER_HOST PGCLUSTER_SOCKDIR PGCLUSTER_CONNSTR
	fi
	return 0
}

# pgcluster_conninfo PORT: the libpq connection string of the cluster on
# 127.0.0.1:PORT.
pgcluster_conninfo()
{
	echo "host=127.0.0.1 port=$1 user=postgres dbname=postgres"
}

# pgcluster_query PORT [psql args...]: psql as "postgres" on the cluster on
# 127.0.0.1:PORT, quiet, rows unaligned and without headers, stopping at the
# first error.  Uses $PGBIN when the caller has set it.
pgcluster_query()
{
	local port=$1
	shift
	"${PGBIN:-$(pgcluster_bindir)}/psql" -X -q -v ON_ERROR_STOP=1 -At \
		-h 127.0.0.1 -p "$port" -U postgres -d postgres "$@"
}

# pgcluster_psql [psql args...]: psql as "postgres" on the last started
# cluster, quiet, stopping at the first error.
pgcluster_psql()
{
	"$(pgcluster_bindir)/psql" -X -q -v ON_ERROR_STOP=1 \
		-h "${PGCLUSTER_HOST:?no cluster started}" -p "$PGCLUSTER_PORT" \
		-U postgres -d postgres "$@"
}

# Command-line mode when executed rather than sourced.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	usage()
	{
		echo "usage: $0 start PORT [--state FILE] ['name = value' ...]" >&2
		echo "       $0 stop DIR | --state FILE" >&2
		exit 2
	}
	[ $# -ge 1 ] || usage
	cmd=$1
	shift
	case "$cmd" in
		start)
			[ $# -ge 1 ] || usage
			port=$1
			shift
			state=
			if [ "${1:-}" = --state ]; then
				[ $# -ge 2 ] || usage
				state=$2
				shift 2
				# A run that crashed may have left its cluster behind.
				if [ -s "$state" ]; then
					pgcluster_stop "$(cat "$state")" || true
					rm -f "$state"
				fi
			fi
			pgcluster_start "$port" "$@"
			if [ -n "$state" ]; then
				echo "$PGCLUSTER_DIR" >"$state"
			fi
			echo "$PGCLUSTER_DIR"
			;;
		stop)
			[ $# -ge 1 ] || usage
			if [ "$1" = --state ]; then
				[ $# -ge 2 ] || usage
				if [ -s "$2" ]; then
					pgcluster_stop "$(cat "$2")"
				fi
				rm -f "$2"
			else
				pgcluster_stop "$1"
			fi
			;;
		*)
			usage
			;;
	esac
fi
