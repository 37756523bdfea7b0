--
-- encoding: strings on the wire are UTF-8 whatever the database encoding;
-- logical message content is bytes, exactly as emitted.
--
SELECT current_database() AS origdb \gset
CREATE DATABASE w2p_latin1 ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C'
    TEMPLATE template0;
\c w2p_latin1
SET client_encoding = 'UTF8';
SHOW server_encoding;
CREATE EXTENSION wal2proto;
SELECT 'init' FROM pg_create_logical_replication_slot('enc', 'wal2proto');
CREATE TABLE "café" (id int PRIMARY KEY, "naïve" text, v varchar(10), n name,
                     c "char");
INSERT INTO "café" VALUES (1, 'é ü ß ÿ ½', 'Àçcént', 'Ünïcödé', 'é');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'préfixe', 'é');

-- on the wire: UTF-8 é (c3 a9) in the strings; the message content keeps
-- the database's byte for é (LogicalMessage.content: tag 1a, length 01, e9)
SELECT row_number() OVER () AS batch,
       position('\xc3a9'::bytea IN data) > 0 AS utf8_e_acute,
       position('\x1a01e9'::bytea IN data) > 0 AS latin1_content
  FROM pg_logical_slot_peek_binary_changes('enc', NULL, NULL);
-- as rendered (to_json converts back to the database encoding; psql shows
-- UTF-8)
SELECT m -> 'relation' ->> 'name' AS relation,
       (SELECT string_agg(c ->> 'name', ', ')
          FROM jsonb_array_elements(m #> '{relation,columns}') AS c) AS columns
  FROM pg_logical_slot_peek_binary_changes('enc', NULL, NULL) AS r,
       jsonb_array_elements(wal2proto.to_json(r.data) -> 'messages') AS m
 WHERE m ? 'relation';
SELECT coalesce(m #> '{insert,new_tuple,values}', (m -> 'logical_message') - 'lsn')
  FROM pg_logical_slot_get_binary_changes('enc', NULL, NULL) AS r,
       jsonb_array_elements(wal2proto.to_json(r.data) -> 'messages') AS m
 WHERE m ? 'insert' OR m ? 'logical_message';

SELECT pg_drop_replication_slot('enc');
\c :origdb
DROP DATABASE w2p_latin1;
