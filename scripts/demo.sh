#!/usr/bin/env bash
# demo.sh
#    Show wal2proto at work: build and install it, start a throw-away
#    cluster, make some changes and print what the plugin decodes from them,
#    first rendered as JSON by wal2proto.to_json() and then one write as
#    protoc decodes the raw bytes.
#
#    Usage: sudo scripts/demo.sh [--keep] [--port PORT] [--no-build] [--walapply]
#
#      --keep       leave the cluster running (its connection string and
#                   stop command are printed)
#      --port PORT  port on 127.0.0.1 (default 55420)
#      --no-build   skip installing dependencies and building
#      --walapply   also build walapply (the C++ consumer, in build/) and let
#                   it consume the slot over the replication protocol into
#                   an SQL file and a JSON Lines file
#
#    Each step is a function below; add steps by adding functions to main.

set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=pgcluster.sh
source "$repo/scripts/pgcluster.sh"

port=55420
keep=false
build=true
walapply=false
build_dir=${BUILD_DIR:-$repo/build}
while [ $# -gt 0 ]; do
	case "$1" in
		--keep) keep=true ;;
		--no-build) build=false ;;
		--walapply) walapply=true ;;
		--port)
			port=${2:?--port needs a value}
			shift
			;;
		-h | --help)
			sed -n '2,/^$/s/^# \{0,1\}//p' "$0"
			exit 0
			;;
		*)
			echo "demo.sh: unknown argument $1 (try --help)" >&2
			exit 2
			;;
	esac
	shift
done

say()
{
	echo
	echo "=== $*"
}

build_and_install()
{
	say "installing dependencies, building and installing wal2proto"
	"$repo/scripts/install-deps.sh"
	make -C "$repo" -j"$(nproc 2>/dev/null || echo 2)"
	make -C "$repo" install
}

start_cluster()
{
	say "starting a PostgreSQL cluster on 127.0.0.1:$port"
	pgcluster_start "$port"
	if ! $keep; then
		trap 'pgcluster_stop' EXIT
	fi
	echo "connection: $PGCLUSTER_CONNSTR"
}

# psql on the demo cluster, echoing each statement before its output.
demo_psql()
{
	pgcluster_psql -e "$@"
}

make_changes()
{
	say "creating a table and a wal2proto slot, then changing some rows"
	demo_psql <<'SQL'
CREATE EXTENSION wal2proto;
CREATE TABLE accounts (
    id      bigint PRIMARY KEY,
    owner   text NOT NULL,
    balance numeric(14, 2),
    opened  timestamptz,
    tags    text[]
);
SELECT 'created' AS slot FROM pg_create_logical_replication_slot('demo', 'wal2proto');
BEGIN;
INSERT INTO accounts VALUES
    (1, 'Ada', 100.50, '2024-01-02 03:04:05.678+00', '{vip,early}'),
    (2, 'Grace', NULL, 'infinity', '{}');
COMMIT;
UPDATE accounts SET balance = balance - 25.25 WHERE id = 1;
DELETE FROM accounts WHERE id = 2;
SELECT 'emitted' AS message FROM pg_logical_emit_message(true, 'demo', 'hello');
TRUNCATE accounts;
SQL
}

show_json()
{
	say "the decoded changes rendered by wal2proto.to_json(), one message per line"
	demo_psql -c "SELECT w.lsn AS write_lsn, m.n, m.message
	                FROM pg_logical_slot_peek_binary_changes('demo', NULL, NULL) AS w,
	                     jsonb_array_elements(wal2proto.to_json(w.data)->'messages')
	                       WITH ORDINALITY AS m(message, n)"
}

show_protoc()
{
	local hex file
	say "the raw bytes of the first write, decoded by protoc --decode=wal2proto.v1.Batch"
	hex=$(pgcluster_psql -At -c "SELECT encode(data, 'hex')
	        FROM pg_logical_slot_peek_binary_changes('demo', NULL, NULL) LIMIT 1")
	file=$(mktemp)
	# hex to bytes without xxd: every pair becomes a \xHH escape for printf.
	printf '%b' "$(echo -n "$hex" | sed 's/../\\x&/g')" >"$file"
	echo "($(wc -c <"$file") bytes)"
	protoc --decode=wal2proto.v1.Batch -I"$repo/proto" "$repo/proto/wal2proto.proto" <"$file"
	rm -f "$file"
}

consume()
{
	say "consuming the changes (the slot moves past them)"
	demo_psql -c "SELECT count(*) AS writes, sum(octet_length(data)) AS bytes
	                FROM pg_logical_slot_get_binary_changes('demo', NULL, NULL)"
}

# walapply streams the slot (START_REPLICATION) up to the current end of
# WAL into two file targets, confirming what they made durable.
run_walapply()
{
	local bin=$build_dir/consumer/walapply out end
	say "building walapply, the C++ consumer, in $build_dir"
	cmake -S "$repo" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build_dir" -j"$(nproc 2>/dev/null || echo 2)" --target walapply

	out=$(mktemp -d)
	end=$(pgcluster_psql -At -c "SELECT pg_current_wal_lsn()")
	say "walapply: streaming slot demo up to $end into files"
	"$bin" -d "$PGCLUSTER_CONNSTR" -S demo --start --endpos "$end" --no-loop \
		--target "file:$out/changes.sql" --target "file:$out/changes.jsonl"
	say "$out/changes.sql (replayable with psql)"
	cat "$out/changes.sql"
	say "$out/changes.jsonl"
	cat "$out/changes.jsonl"
	demo_psql -c "SELECT slot_name, confirmed_flush_lsn FROM pg_replication_slots"
	rm -rf "$out"
}

finish()
{
	if $keep; then
		say "cluster left running"
		echo "connect: psql '$PGCLUSTER_CONNSTR'"
		echo "stop:    $repo/scripts/pgcluster.sh stop $PGCLUSTER_DIR"
	else
		say "stopping the cluster"
	fi
}

main()
{
	if $build; then
		build_and_install
	fi
	start_cluster
	make_changes
	show_json
	show_protoc
	if $walapply; then
		run_walapply
	else
		consume
	fi
	finish
}

main
