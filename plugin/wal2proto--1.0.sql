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
