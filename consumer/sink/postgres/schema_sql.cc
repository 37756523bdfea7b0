// schema_sql.cc
//    The objects a peer needs in schema wal2proto, as SQL.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Keep in step with plugin/wal2proto--1.0.sql.

#include "sink/postgres/schema_sql.h"

namespace walapply::sink::postgres {

const SchemaObject kSchemaObjects[] = {
    {"wal2proto.conflicts", false, R"SQL(
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
))SQL"},
    {"wal2proto.tombstones", false, R"SQL(
CREATE TABLE wal2proto.tombstones (
    relid oid NOT NULL,
    key jsonb NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (relid, key)
))SQL"},
    {"wal2proto.record_tombstones()", true, R"SQL(
CREATE FUNCTION wal2proto.record_tombstones()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
SET timezone = 'UTC'
AS $fn$
BEGIN
    -- One statement per DELETE statement; TG_ARGV names the key columns.
    EXECUTE format('INSERT INTO wal2proto.tombstones AS t (relid, key) '
                   'SELECT %s, jsonb_build_object(%s) FROM wal2proto_deleted '
                   'ON CONFLICT (relid, key) DO UPDATE SET deleted_at = now()',
                   TG_RELID,
                   (SELECT string_agg(format('%L, %I', a, a), ', ') FROM unnest(TG_ARGV) AS a));
    RETURN NULL;
END
$fn$)SQL"},
    {"wal2proto.track_deletes(regclass)", true, R"SQL(
CREATE FUNCTION wal2proto.track_deletes(rel regclass)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog
AS $fn$
DECLARE
    cols text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgrelid = rel AND tgname = 'wal2proto_tombstone') THEN
        RETURN true;
    END IF;
    SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY a.attnum) INTO cols
      FROM pg_index i JOIN pg_attribute a
        ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = rel AND i.indisprimary;
    IF cols IS NULL THEN
        SELECT string_agg(quote_literal(a.attname), ', ' ORDER BY a.attnum) INTO cols
          FROM pg_index i JOIN pg_attribute a
            ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE i.indrelid = rel AND i.indisreplident;
    END IF;
    IF cols IS NULL THEN
        RETURN false;
    END IF;
    BEGIN
        EXECUTE format('CREATE TRIGGER wal2proto_tombstone AFTER DELETE ON %s '
                       'REFERENCING OLD TABLE AS wal2proto_deleted FOR EACH STATEMENT '
                       'EXECUTE FUNCTION wal2proto.record_tombstones(%s)',
                       rel, cols);
    EXCEPTION WHEN feature_not_supported OR wrong_object_type THEN
        -- Partitions and inheritance children take no transition tables.
        RETURN false;
    END;
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER wal2proto_tombstone', rel);
    RETURN true;
END
$fn$)SQL"},
};

const int kSchemaObjectCount =
    sizeof(kSchemaObjects) / sizeof(kSchemaObjects[0]);

}  // namespace walapply::sink::postgres
