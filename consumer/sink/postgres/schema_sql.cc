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
    {"wal2proto.record_tombstone()", true, R"SQL(
CREATE FUNCTION wal2proto.record_tombstone()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog
SET timezone = 'UTC'
AS $fn$
DECLARE
    old_row jsonb := to_jsonb(OLD);
    k jsonb;
BEGIN
    SELECT jsonb_object_agg(a, old_row -> a) INTO k FROM unnest(TG_ARGV) AS a;
    INSERT INTO wal2proto.tombstones AS t (relid, key) VALUES (TG_RELID, k)
    ON CONFLICT (relid, key) DO UPDATE SET deleted_at = now();
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
    EXECUTE format('CREATE TRIGGER wal2proto_tombstone AFTER DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION wal2proto.record_tombstone(%s)',
                   rel, cols);
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER wal2proto_tombstone', rel);
    RETURN true;
END
$fn$)SQL"},
};

const int kSchemaObjectCount = sizeof(kSchemaObjects) / sizeof(kSchemaObjects[0]);

}  // namespace walapply::sink::postgres
