/* plugin/wal2proto--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION wal2proto" to load this file. \quit

CREATE FUNCTION wal2proto.version()
RETURNS text
AS 'MODULE_PATHNAME', 'wal2proto_version'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION wal2proto.version() IS
'version of the wal2proto output plugin library';

CREATE FUNCTION wal2proto.to_json(batch bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'wal2proto_to_json'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION wal2proto.to_json(bytea) IS
'render one wal2proto.v1.Batch (a row of pg_logical_slot_get_binary_changes) as jsonb';

-- Peer masters (walapply's postgresql:// targets).  walapply creates these
-- objects itself when an older installation of the extension lacks them, from
-- the same definitions (consumer/sink/postgres/schema_sql.cc).

-- Every conflict walapply resolved on this node, written in the same
-- transaction as the change it concerns: the link (source->node), the table,
-- the conflict type (insert_exists, insert_deleted, update_origin_differs,
-- update_exists, update_missing, update_deleted, delete_origin_differs,
-- delete_missing), the resolution (apply_remote, keep_local, skip), both
-- versions of the row (jsonb; the remote row's values in their text forms),
-- the local version's commit time and origin node and the remote
-- transaction's, and the remote commit LSN.
CREATE TABLE wal2proto.conflicts (
    id bigserial PRIMARY KEY,
    logged_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    link text NOT NULL,
    relation text NOT NULL,
    conflict_type text NOT NULL,
    resolution text NOT NULL,
    local_row jsonb,
    remote_row jsonb,
    local_commit_time timestamptz,
    local_origin text,
    remote_commit_time timestamptz NOT NULL,
    remote_origin text NOT NULL,
    remote_commit_lsn pg_lsn NOT NULL
);

COMMENT ON TABLE wal2proto.conflicts IS
'conflicts resolved by walapply while applying changes from peer masters';

-- Tombstones of deleted rows: (table, key).  The key is the text of a row
-- of the key columns, ROW(k1, k2, ...)::text, printed under fixed settings
-- (UTC, ISO dates, extra_float_digits 3, hex bytea), so that walapply
-- builds the same text from a change's key.  The row's xmin is the deleting
-- transaction, so pg_xact_commit_timestamp_origin gives the delete's commit
-- time and origin; an older update or insert arriving later from a peer
-- does not bring the row back.  A key deleted again gets another tombstone
-- (plain inserts, no upsert, keep deletes cheap): the newest one counts.
CREATE TABLE wal2proto.tombstones (
    relid oid NOT NULL,
    key text COLLATE "C" NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tombstones_key ON wal2proto.tombstones (relid, key);

-- The tombstone trigger.  On a table, a statement trigger: one INSERT per
-- DELETE statement, from its transition table.  On a partitioned table, a
-- row trigger, which PostgreSQL clones to every partition (and to those
-- attached later): a DELETE aimed at one partition fires that partition's
-- triggers only, and partitions take no transition tables.  TG_ARGV[0] is
-- the relation the tombstones are kept under (the table, or the root of its
-- partition tree); the other arguments name the key columns.
CREATE FUNCTION wal2proto.record_tombstones()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
SET timezone = 'UTC'
SET datestyle = 'ISO'
SET intervalstyle = 'postgres'
SET extra_float_digits = 3
SET bytea_output = 'hex'
AS $fn$
DECLARE
    key text := (SELECT string_agg(format('d.%I', a), ', ')
                   FROM unnest(TG_ARGV[1:]) AS a);
BEGIN
    -- (not in a walapply session that applies its source's deletes without
    -- tombstones: applied_tombstones=off, for a node with one peer)
    IF current_setting('wal2proto.applied_tombstones', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_LEVEL = 'STATEMENT' THEN
        EXECUTE format('INSERT INTO wal2proto.tombstones (relid, key) '
                       'SELECT %s, ROW(%s)::text FROM wal2proto_deleted d',
                       TG_ARGV[0], key);
    ELSE
        EXECUTE format('INSERT INTO wal2proto.tombstones (relid, key) '
                       'SELECT %s, ROW(%s)::text FROM (SELECT ($1).*) d',
                       TG_ARGV[0], key)
            USING OLD;
    END IF;
    RETURN NULL;
END
$fn$;

-- A TRUNCATE leaves one tombstone for the whole table: key '*' (never the
-- text of a row, which starts with "("), or '*OID' for partition OID, kept
-- under the root of its partition tree.  TG_ARGV[0] is the table or root,
-- TG_ARGV[1] the partition if any.  walapply records the truncates it
-- applies itself.
CREATE FUNCTION wal2proto.record_truncate()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
BEGIN
    INSERT INTO wal2proto.tombstones (relid, key)
    VALUES (TG_ARGV[0]::oid, '*' || coalesce(TG_ARGV[1], ''));
    RETURN NULL;
END
$fn$;

-- Raises an error unless a statement changed as many rows as expected.
-- walapply sends the statements of a transaction ahead of their results
-- (pipeline mode); a statement that meets a conflict changes fewer rows, and
-- this error rolls the transaction back before its COMMIT, so that walapply
-- applies it again row by row, resolving the conflict.
CREATE FUNCTION wal2proto.expect_rows(changed bigint, expected bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
BEGIN
    IF changed IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'walapply: a statement changed % rows instead of %', changed, expected
            USING ERRCODE = 'triggered_data_change_violation',
                  DETAIL = 'A conflict with a local row or tombstone.',
                  HINT = 'walapply applies the transaction again row by row.';
    END IF;
    RETURN changed;
END
$fn$;

-- Sets up the replication origin of the transaction walapply applies (as
-- pg_replication_origin_xact_setup(lsn, ts)), after checking that the
-- session's origin has reached `after`: the end of the transaction walapply
-- sent before this one without waiting for its result.  If that one did not
-- commit, this one must not either, or the origin's progress would pass a
-- transaction that is not applied.
CREATE FUNCTION wal2proto.xact_setup(lsn pg_lsn, ts timestamptz, after pg_lsn)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
DECLARE
    reached pg_lsn := pg_replication_origin_session_progress(false);
BEGIN
    IF after IS NOT NULL AND (reached IS NULL OR reached < after) THEN
        RAISE EXCEPTION 'walapply: the transaction ending at % did not commit', after
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('The origin of this session has reached %s.', reached),
                  HINT = 'walapply applies the transactions from that one on again.';
    END IF;
    PERFORM pg_replication_origin_xact_setup(lsn, ts);
END
$fn$;

-- Two links into one node can race on one key: one inserts it (finding no
-- tombstone), while the other applies a newer delete of it, finds no row
-- (the insert has not committed) and leaves a tombstone.  Both commit and
-- the row stays, where every other node has deleted it.  So a walapply
-- transaction takes a shared lock on the relation's inserts before it
-- inserts a row into it (or gives a row a new key), and one that finds a
-- row missing takes the same lock exclusively and looks again: it waits
-- for the transactions inserting into the relation to end, and keeps new
-- ones out until it ends.  Transaction-level advisory locks, on the key
-- pair (hashtext('wal2proto inserts'), relation).  (Schema-qualified, with
-- no SET clause: the planner inlines them.)
CREATE FUNCTION wal2proto.lock_inserts(rel oid)
RETURNS void
LANGUAGE sql
AS $fn$
    SELECT pg_catalog.pg_advisory_xact_lock_shared(pg_catalog.hashtext('wal2proto inserts'), rel::pg_catalog.int4)
$fn$;

CREATE FUNCTION wal2proto.await_inserts(rel oid)
RETURNS void
LANGUAGE sql
AS $fn$
    SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('wal2proto inserts'), rel::pg_catalog.int4)
$fn$;

-- Raises an error if a table has tombstones.  walapply sends a transaction
-- of inserts into one table with COPY, which cannot look for tombstones
-- row by row; this guard, run first in the same transaction, makes it fall
-- back to inserts that do.  It takes the lock on the relation's inserts
-- first (see lock_inserts), so that its look runs after any transaction
-- holding the lock exclusively has ended.
CREATE FUNCTION wal2proto.expect_no_tombstones(rel oid)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
BEGIN
    PERFORM wal2proto.lock_inserts(rel);
    -- (not EXISTS, which would drop the ORDER BY that keeps the planner on
    -- the index when the table has no tombstone among many of others)
    PERFORM 1 FROM wal2proto.tombstones WHERE relid = rel
     ORDER BY relid, key LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'walapply: table % has tombstones', rel::regclass
            USING ERRCODE = 'triggered_data_change_violation',
                  HINT = 'walapply inserts into it with statements that look for them.';
    END IF;
END
$fn$;

-- An insert that looks for tombstones sees those committed before it
-- started.  A delete of the same key by the node's own transaction may
-- commit while the insert waits for it on the deleted row's key; the insert
-- then goes in, and the newer delete loses the row here only.  So walapply
-- looks (again) after inserting, with a snapshot of its own: in pipeline
-- mode with a statement of its own, which counts the inserted rows that
-- have tombstones and passes the count here:
CREATE FUNCTION wal2proto.expect_not_deleted(n bigint)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
BEGIN
    IF n > 0 THEN
        RAISE EXCEPTION 'walapply: % rows just inserted have tombstones', n
            USING ERRCODE = 'triggered_data_change_violation',
                  DETAIL = 'Their keys were deleted before, or while the insert waited for them.',
                  HINT = 'walapply applies the transaction again row by row.';
    END IF;
    RETURN n;
END
$fn$;

-- ... and otherwise in the insert's statement, through this volatile
-- function, whose query takes a snapshot of its own: whether, now, a
-- tombstone stands for one of `keys` of relation rel, or for a truncate of
-- rel or of its partition part (false when nothing was inserted).
CREATE FUNCTION wal2proto.tombstoned(inserted bigint, rel oid, part oid, keys text[])
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
BEGIN
    IF inserted = 0 THEN
        RETURN false;
    END IF;
    -- (one equality probe of the index per key: an IN list or = ANY, costed
    -- per element, may be left out of the index condition of a plan made
    -- while there are few tombstones)
    RETURN (SELECT count(*) FROM unnest(keys || ARRAY['*', '*' || part]) k
             WHERE (SELECT 1 FROM wal2proto.tombstones t
                     WHERE t.relid = rel AND t.key = k LIMIT 1) IS NOT NULL) > 0;
END
$fn$;

-- Installs the tombstone triggers (deletes, truncates) on a table with a
-- primary key (or replica identity index), or for a partition on the root
-- of its partition tree; true when the table has such a key.
CREATE FUNCTION wal2proto.track_deletes(rel regclass)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
DECLARE
    root regclass := coalesce(pg_partition_root(rel), rel);
    part regclass;
    cols text;
BEGIN
    -- Truncate triggers are not cloned to partitions: each partition there
    -- is now gets its own (a partition attached later has none, and a
    -- TRUNCATE aimed at it leaves no tombstone).
    FOR part IN SELECT relid FROM pg_partition_tree(root)
                 WHERE relid <> root AND isleaf
                UNION ALL SELECT root LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_trigger
                       WHERE tgrelid = part AND tgname = 'wal2proto_truncate') THEN
            EXECUTE format('CREATE TRIGGER wal2proto_truncate AFTER TRUNCATE ON %s '
                           'FOR EACH STATEMENT EXECUTE FUNCTION wal2proto.record_truncate(%s%s)',
                           part, root::oid,
                           CASE WHEN part = root THEN '' ELSE ', ' || part::oid END);
            EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER wal2proto_truncate', part);
        END IF;
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgrelid = root AND tgname = 'wal2proto_tombstone') THEN
        RETURN true;
    END IF;
    SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY a.attname) INTO cols
      FROM pg_index i JOIN pg_attribute a
        ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = root AND i.indisprimary;
    IF cols IS NULL THEN
        SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY a.attname) INTO cols
          FROM pg_index i JOIN pg_attribute a
            ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = root AND i.indisreplident;
    END IF;
    IF cols IS NULL THEN
        RETURN false;
    END IF;
    IF (SELECT relkind FROM pg_class WHERE oid = root) = 'p' THEN
        -- A partition tree: a row trigger, cloned to every partition.
        EXECUTE format('CREATE TRIGGER wal2proto_tombstone AFTER DELETE ON %s '
                       'FOR EACH ROW '
                       'EXECUTE FUNCTION wal2proto.record_tombstones(%s, %s)',
                       root, root::oid, cols);
    ELSE
        BEGIN
            EXECUTE format('CREATE TRIGGER wal2proto_tombstone AFTER DELETE ON %s '
                           'REFERENCING OLD TABLE AS wal2proto_deleted FOR EACH STATEMENT '
                           'EXECUTE FUNCTION wal2proto.record_tombstones(%s, %s)',
                           root, root::oid, cols);
        EXCEPTION WHEN feature_not_supported OR wrong_object_type THEN
            -- Inheritance children take no transition tables.
            RETURN false;
        END;
    END IF;
    -- (on a partitioned table, this reaches the partitions' clones too)
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER wal2proto_tombstone', root);
    RETURN true;
END
$fn$;

SELECT pg_catalog.pg_extension_config_dump('wal2proto.conflicts', '');
SELECT pg_catalog.pg_extension_config_dump('wal2proto.conflicts_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('wal2proto.tombstones', '');
