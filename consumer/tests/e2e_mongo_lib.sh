# e2e_mongo_lib.sh
#    Helpers of the MongoDB target's end-to-end tests (sourced after
#    e2e_lib.sh).
#
#    The tests write to the MongoDB that MONGO_URI names, or, without it, to
#    the MongoDB-wire server of tests/mongo/server.py, started here on a
#    port of the test's choosing and stopped on exit.  Against a real
#    MongoDB the databases a test uses are dropped first; restarting the
#    server is only possible with the test server.

MONGO_TOOLS="$E2E_ROOT/tests/mongo"
# Debian's python3 holds the modules the tools need (pymongo, mockupdb,
# mongomock, psycopg2).
MONGO_PY=${MONGO_PY:-/usr/bin/python3}

# mongo_start PORT DB...: a server (or MONGO_URI) with DBs empty.
mongo_start()
{
	local port=$1
	shift
	MONGO_DBPATH="$E2E_WORK/mongo.db"
	if [ -n "${MONGO_URI:-}" ]; then
		MONGO_OWN=0
		MURI=$MONGO_URI
		"$MONGO_PY" - "$MURI" "$@" <<'PY'
import sys, pymongo
c = pymongo.MongoClient(sys.argv[1])
for db in sys.argv[2:]:
    c.drop_database(db)
PY
		return
	fi
	MONGO_OWN=1
	MONGO_PORT=$port
	MURI="mongodb://127.0.0.1:$port/"
	mongo_server_up
}

mongo_server_up()
{
	"$MONGO_PY" "$MONGO_TOOLS/server.py" --port "$MONGO_PORT" --dbpath "$MONGO_DBPATH" \
		>>"$E2E_WORK/mongo-server.log" 2>&1 &
	MONGO_PID=$!
	E2E_PIDS+=("$MONGO_PID")
	local _
	for _ in $(seq 1 100); do
		grep -q "listening on" "$E2E_WORK/mongo-server.log" 2>/dev/null &&
			"$MONGO_PY" -c "import socket; socket.create_connection(('127.0.0.1', $MONGO_PORT), 1)" \
				2>/dev/null && return 0
		sleep 0.1
	done
	cat "$E2E_WORK/mongo-server.log" >&2
	fail "the MongoDB-wire test server did not start"
}

# mongo_restart PAUSE: stops the test server (it saves what it holds),
# waits PAUSE seconds and starts it again.
mongo_restart()
{
	[ "$MONGO_OWN" = 1 ] || return 0
	kill -TERM "$MONGO_PID"
	wait "$MONGO_PID" 2>/dev/null || true
	: >"$E2E_WORK/mongo-server.log.tmp"
	sleep "$1"
	mv "$E2E_WORK/mongo-server.log" "$E2E_WORK/mongo-server.log.1"
	mongo_server_up
}

# mongo_compare [ARGS...]: every collection of the source's schema public
# equals its table under the mapping (tests/mongo/compare.py).
mongo_compare()
{
	"$MONGO_PY" "$MONGO_TOOLS/compare.py" \
		--pg "host=127.0.0.1 port=$PGCLUSTER_PORT user=postgres dbname=postgres" \
		--mongo "$MURI" "$@" || fail "MongoDB differs from the source"
}

# mongo_eval PYTHON: runs Python with `db` bound to a client of MURI.
mongo_eval()
{
	"$MONGO_PY" - "$MURI" "$1" <<'PY'
import sys, pymongo
client = pymongo.MongoClient(sys.argv[1], uuidRepresentation='unspecified')
exec(sys.argv[2])
PY
}

# mongo_stop: stops the test server.
mongo_stop()
{
	[ "${MONGO_OWN:-0}" = 1 ] || return 0
	kill -TERM "$MONGO_PID" 2>/dev/null || true
	wait "$MONGO_PID" 2>/dev/null || true
}

# mongo_lose_everything: kills the test server with SIGKILL and starts an
# empty one on the same port (a MongoDB that lost acknowledged writes).
mongo_lose_everything()
{
	[ "$MONGO_OWN" = 1 ] || return 0
	kill -9 "$MONGO_PID"
	wait "$MONGO_PID" 2>/dev/null || true
	rm -f "$MONGO_DBPATH"
	mv "$E2E_WORK/mongo-server.log" "$E2E_WORK/mongo-server.log.killed"
	mongo_server_up
}
