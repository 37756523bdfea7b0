--
-- messages: pg_logical_emit_message, transactional and not, binary content,
-- and the message-prefixes filter.
--
SELECT 'init' FROM pg_create_logical_replication_slot('msg', 'wal2proto');
CREATE TABLE mt (id int PRIMARY KEY);

-- non-transactional: delivered at once, alone in its batch
SELECT 'emitted' FROM pg_logical_emit_message(false, 'plain', 'hello');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'bin', '\x00ff0000ab'::bytea);
SELECT 'emitted' FROM pg_logical_emit_message(false, '', '');
SELECT w2p_flush();
SELECT * FROM w2p('msg');

-- transactional: inside the transaction, in order with the changes
BEGIN;
INSERT INTO mt VALUES (1);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app', 'in txn');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app', '\x0001000203'::bytea);
-- a non-transactional one in the middle is sent right away, before the
-- transaction that is still open
SELECT 'emitted' FROM pg_logical_emit_message(false, 'now', 'now 😀');
INSERT INTO mt VALUES (2);
COMMIT;
SELECT * FROM w2p('msg');

-- a rolled back transaction takes its transactional message with it, but
-- not the non-transactional one
BEGIN;
SELECT 'emitted' FROM pg_logical_emit_message(true, 'app', 'lost');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'app', 'kept');
ROLLBACK;
-- a transaction with only a transactional message is sent
SELECT 'emitted' FROM pg_logical_emit_message(true, 'only', 'message');
SELECT * FROM w2p('msg');

-- the raw batches: each non-transactional message is its own row, and the
-- lsn is the message's own
SELECT 'emitted' FROM pg_logical_emit_message(false, 'one', '1');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'two', '2');
SELECT w2p_flush();
SELECT jsonb_array_length(wal2proto.to_json(data) -> 'messages') AS messages,
       wal2proto.to_json(data) #>> '{messages,0,logical_message,lsn}' = lsn::text AS lsn_matches
  FROM pg_logical_slot_get_binary_changes('msg', NULL, NULL);

-- message-prefixes: only messages whose prefix is listed are sent; changes
-- are not affected
BEGIN;
INSERT INTO mt VALUES (3);
SELECT 'emitted' FROM pg_logical_emit_message(true, 'keep', 'a');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'drop', 'b');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'keep2', 'c');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'kee', 'd');
SELECT 'emitted' FROM pg_logical_emit_message(true, 'a,b', 'e');
COMMIT;
SELECT 'emitted' FROM pg_logical_emit_message(false, 'drop', 'f');
SELECT 'emitted' FROM pg_logical_emit_message(false, 'keep', 'g');
SELECT w2p_flush();
-- a transaction whose only message is filtered out sends nothing
SELECT 'emitted' FROM pg_logical_emit_message(true, 'drop', 'h');
SELECT * FROM w2p_peek('msg', 'message-prefixes', 'keep,keep2');
SELECT * FROM w2p_peek('msg', 'message-prefixes', 'drop');
-- a prefix with a comma is double-quoted
SELECT * FROM w2p_peek('msg', 'message-prefixes', '"a,b"') AS m WHERE m ? 'logical_message';
SELECT * FROM w2p('msg', 'message-prefixes', 'nothing-matches');

SELECT pg_drop_replication_slot('msg');
DROP TABLE mt;
