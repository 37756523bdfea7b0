--
-- setup: the extension and the helper functions the other tests use.
--
-- w2p(slot, options...) consumes the slot with pg_logical_slot_get_binary_changes
-- and returns one jsonb row per protocol message, rendered by wal2proto.to_json
-- and normalised so that expected output does not depend on the run:
--  * LSN fields, xids and commit/prepare/rollback times are removed (tests that
--    care about them check them with targeted queries);
--  * relation ids become the relation's name, type oids of non-builtin types
--    become their format_type name;
--  * strings longer than 200 characters become "<N chars, md5 M>".
-- w2p_peek() is the same without consuming; w2p_raw_peek() does not
-- normalise; w2p_counts() counts the messages of each kind.
--
-- w2p_flush() makes sure WAL written so far is flushed, so that decoding
-- sees it: records not followed by a commit of a transaction that wrote WAL
-- (non-transactional logical messages, aborts) are otherwise flushed only
-- when the WAL writer gets to them.
--
CREATE EXTENSION wal2proto;
SELECT extname, extversion, extnamespace::regnamespace FROM pg_extension
WHERE extname = 'wal2proto';
SELECT wal2proto.version() IS NOT NULL AS has_version;

CREATE FUNCTION w2p_norm(j jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k text;
    v jsonb;
    result jsonb;
BEGIN
    IF jsonb_typeof(j) = 'string' AND length(j #>> '{}') > 200 THEN
        RETURN to_jsonb(format('<%s chars, md5 %s>', length(j #>> '{}'),
                               md5(j #>> '{}')));
    ELSIF jsonb_typeof(j) = 'array' THEN
        SELECT coalesce(jsonb_agg(w2p_norm(e) ORDER BY n), '[]')
          INTO result
          FROM jsonb_array_elements(j) WITH ORDINALITY AS a(e, n);
        RETURN result;
    ELSIF jsonb_typeof(j) <> 'object' THEN
        RETURN j;
    END IF;
    result := '{}';
    FOR k, v IN SELECT * FROM jsonb_each(j) LOOP
        IF k IN ('final_lsn', 'commit_lsn', 'end_lsn', 'lsn', 'abort_lsn',
                 'prepare_lsn', 'prepare_end_lsn', 'rollback_end_lsn',
                 'xid', 'subxid', 'commit_time', 'prepare_time',
                 'rollback_time') THEN
            CONTINUE;
        ELSIF k = 'relation_id' THEN
            v := to_jsonb(v::text::oid::regclass::text);
        ELSIF k = 'relation_ids' THEN
            SELECT jsonb_agg(e::text::oid::regclass::text ORDER BY n)
              INTO v
              FROM jsonb_array_elements(v) WITH ORDINALITY AS a(e, n);
        ELSIF k IN ('type_oid', 'base_type_oid', 'element_type_oid') THEN
            IF v::text::bigint >= 16384 THEN
                v := to_jsonb(format_type(v::text::oid, NULL));
            END IF;
        ELSE
            v := w2p_norm(v);
        END IF;
        result := result || jsonb_build_object(k, v);
    END LOOP;
    RETURN result;
END
$$;

CREATE FUNCTION w2p_messages(slot name, peek bool, norm bool, options text[])
RETURNS SETOF jsonb
LANGUAGE plpgsql AS $$
BEGIN
    IF peek THEN
        RETURN QUERY
            SELECT CASE WHEN norm THEN w2p_norm(m) ELSE m END
              FROM pg_logical_slot_peek_binary_changes(slot, NULL, NULL,
                                                       VARIADIC options)
                   WITH ORDINALITY AS c(lsn, xid, data, cn),
                   jsonb_array_elements(wal2proto.to_json(c.data) -> 'messages')
                   WITH ORDINALITY AS a(m, n)
             ORDER BY cn, n;
    ELSE
        RETURN QUERY
            SELECT CASE WHEN norm THEN w2p_norm(m) ELSE m END
              FROM pg_logical_slot_get_binary_changes(slot, NULL, NULL,
                                                      VARIADIC options)
                   WITH ORDINALITY AS c(lsn, xid, data, cn),
                   jsonb_array_elements(wal2proto.to_json(c.data) -> 'messages')
                   WITH ORDINALITY AS a(m, n)
             ORDER BY cn, n;
    END IF;
END
$$;

CREATE FUNCTION w2p(slot name, VARIADIC options text[] DEFAULT '{}')
RETURNS SETOF jsonb
LANGUAGE sql AS $$ SELECT w2p_messages(slot, false, true, options) $$;

CREATE FUNCTION w2p_peek(slot name, VARIADIC options text[] DEFAULT '{}')
RETURNS SETOF jsonb
LANGUAGE sql AS $$ SELECT w2p_messages(slot, true, true, options) $$;

CREATE FUNCTION w2p_raw_peek(slot name, VARIADIC options text[] DEFAULT '{}')
RETURNS SETOF jsonb
LANGUAGE sql AS $$ SELECT w2p_messages(slot, true, false, options) $$;

-- How many messages of each kind the slot holds (consumed).
CREATE FUNCTION w2p_counts(slot name, VARIADIC options text[] DEFAULT '{}')
RETURNS TABLE (kind text, n bigint)
LANGUAGE sql AS $$
    SELECT k, count(*)
      FROM w2p_messages(slot, false, true, options) AS m,
           jsonb_object_keys(m) AS k
     GROUP BY k ORDER BY k
$$;

-- A catalog change (not decoded) in a transaction of its own: its commit
-- flushes everything written before it.
CREATE FUNCTION w2p_flush() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    CREATE TEMP TABLE w2p_flush_wal ();
    DROP TABLE w2p_flush_wal;
END
$$;
