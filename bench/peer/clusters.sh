# clusters.sh
#    Shared by the peer benchmarks (sourced, bash): the clusters of one run,
#    by name.  The caller sets WORK (a work directory) and PGBIN and declares
#    the associative arrays DIR and PORT before sourcing; scripts/pgcluster.sh
#    must be sourced too.

# Every cluster lets slots use each plugin the benchmarks compare.
PLUGINS="output_plugin_libraries = 'wal2proto, pgoutput, test_decoding, pglogical_output'"
# No autovacuum: a vacuum of the workload's dead rows (on the source) or of
# a target's would take CPU from whichever method it happened to meet.
QUIET="autovacuum = off"

# start NAME PORT [conf lines...]
start()
{
	local name=$1 port=$2
	shift 2
	pgcluster_start "$port" "$PLUGINS" "$QUIET" "$@" >/dev/null
	DIR[$name]=$PGCLUSTER_DIR
	PORT[$name]=$port
	# Keep the server logs if the run fails.
	ln -sf "$PGCLUSTER_DIR" "$WORK/cluster-$name"
}

# conn NAME: the libpq connection string of cluster NAME.
conn()
{
	pgcluster_conninfo "${PORT[$1]}"
}

# q NAME psql-arguments...: psql on cluster NAME.
q()
{
	local name=$1
	shift
	pgcluster_query "${PORT[$name]}" "$@"
}

now()
{
	date +%s.%N
}
