#!/usr/bin/env bash
# make-golden.sh
#    Regenerate the golden payloads in this directory: real writes of the
#    installed wal2proto plugin, one file per write, read with
#    pg_logical_slot_get_binary_changes from a throw-away cluster.
#
#    Usage: tests/golden/make-golden.sh [PORT]     (default port 55423)
#
#    The scenarios below are what tests/golden_test.cpp expects to find in
#    the files; change both together.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../../scripts/pgcluster.sh
source "$repo/scripts/pgcluster.sh"

port=${1:-55423}
pgcluster_start "$port" "logical_decoding_work_mem = 64kB"
trap 'pgcluster_stop' EXIT

sql()
{
	pgcluster_psql -At "$@"
}

# save SLOT NAME [OPTION VALUE ...]: consume the slot's pending writes into
# NAME.bin, or NAME_01.bin, NAME_02.bin, ... when there are several.
save()
{
	local slot=$1 name=$2 opts="" hex n i
	shift 2
	while [ $# -gt 0 ]; do
		opts="$opts, '$1'"
		shift
	done
	mapfile -t hex < <(sql -c "SELECT encode(data, 'hex')
		FROM pg_logical_slot_get_binary_changes('$slot', NULL, NULL $opts)")
	n=${#hex[@]}
	if [ "$n" -eq 0 ]; then
		echo "make-golden: no writes for $name" >&2
		exit 1
	fi
	rm -f "$here/$name.bin" "$here/$name"_[0-9][0-9].bin
	for ((i = 0; i < n; i++)); do
		local file=$here/$name.bin
		if [ "$n" -gt 1 ]; then
			file=$(printf '%s/%s_%02d.bin' "$here" "$name" $((i + 1)))
		fi
		# printf is a bash builtin: no argument-length limit applies.
		printf '%b' "$(sed 's/../\\x&/g' <<<"${hex[$i]}")" >"$file"
		echo "wrote $(basename "$file") ($(wc -c <"$file") bytes)"
	done
}

sql <<'SQL'
CREATE TABLE golden_t (
    id bigint PRIMARY KEY,
    name text NOT NULL,
    amount numeric(10,2),
    at timestamptz,
    tags text[],
    data bytea,
    flag boolean,
    ratio double precision
);
CREATE TABLE toast_t (id integer PRIMARY KEY, v integer, big text);
ALTER TABLE toast_t ALTER COLUMN big SET STORAGE EXTERNAL;
SELECT 'ok' FROM pg_create_logical_replication_slot('golden', 'wal2proto');
SQL

sql <<'SQL'
BEGIN;
INSERT INTO golden_t VALUES
    (1, 'Ada', 12.50, '2024-01-02 03:04:05.678901+00', '{a,NULL,"日本"}',
     '\x00ff', true, 0.5),
    (2, 'Grace', NULL, 'infinity', '{}', NULL, false, 'NaN');
INSERT INTO toast_t VALUES (1, 1, repeat('x', 3000));
COMMIT;
SQL
save golden 01_insert

sql -c "UPDATE golden_t SET id = 11, amount = 13.75 WHERE id = 1"
save golden 02_update_key

sql -c "UPDATE toast_t SET v = 2 WHERE id = 1"
save golden 03_update_toast

sql -c "DELETE FROM golden_t WHERE id = 2"
save golden 04_delete

sql -c "TRUNCATE golden_t, toast_t"
save golden 05_truncate

lsn=$(sql -c "SELECT pg_logical_emit_message(false, 'golden', '\x00010203'::bytea)")
# Decoding reads only flushed WAL and nothing flushes that record at once:
# wait for the WAL writer to flush it.
until [ "$(sql -c "SELECT pg_current_wal_flush_lsn() >= '$lsn'")" = t ]; do
	sleep 0.1
done
save golden 06_message

sql <<'SQL'
BEGIN;
SELECT 'ok' FROM pg_logical_emit_message(true, 'golden', 'in a transaction');
INSERT INTO golden_t (id, name) VALUES (3, 'Linus');
COMMIT;
SQL
save golden 07_message_txn

# A transaction larger than logical_decoding_work_mem, streamed before its
# commit: StreamStart/StreamStop blocks, then StreamCommit.
sql -c "SELECT 'ok' FROM pg_create_logical_replication_slot('golden_stream', 'wal2proto')"
sql -c "INSERT INTO golden_t (id, name) SELECT g, 'row ' || g FROM generate_series(100, 1099) g"
save golden_stream 08_stream streaming on

# Two-phase commit: BeginPrepare ... Prepare, then CommitPrepared.
sql -c "SELECT 'ok' FROM pg_create_logical_replication_slot('golden_2pc', 'wal2proto', false, true)"
sql <<'SQL'
BEGIN;
INSERT INTO golden_t (id, name) VALUES (4, 'Barbara');
PREPARE TRANSACTION 'golden-gid';
SQL
save golden_2pc 09_prepare
sql -c "COMMIT PREPARED 'golden-gid'"
save golden_2pc 10_commit_prepared

# A transaction replayed from a replication origin, as a peer's walapply
# applies it: Begin carries the origin name and the remote commit LSN, and
# the commit time is the one the origin gave.
sql -c "SELECT 'ok' FROM pg_create_logical_replication_slot('golden_origin', 'wal2proto')"
sql <<'SQL'
SELECT 'ok' FROM pg_replication_origin_create('golden_peer');
SELECT 'ok' FROM pg_replication_origin_session_setup('golden_peer');
BEGIN;
SELECT 'ok' FROM pg_replication_origin_xact_setup('0/ABCDEF', '2024-01-02 03:04:05+00');
INSERT INTO golden_t (id, name) VALUES (5, 'Origin');
COMMIT;
SQL
save golden_origin 11_origin
