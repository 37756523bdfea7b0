--
-- peer: the SQL helpers walapply's postgresql:// target calls on a peer.
-- wal2proto.xact_setup(lsn, ts, after) sets up the replication origin of a
-- transaction like pg_replication_origin_xact_setup(lsn, ts), but only once
-- the session's origin has reached `after`: the end of the transaction sent
-- before it, whose result walapply has not read yet.
--
SELECT pg_replication_origin_create('wal2proto_peer_src') IS NOT NULL AS created;
SELECT pg_replication_origin_session_setup('wal2proto_peer_src');
CREATE TABLE peer_t (id int PRIMARY KEY);

-- nothing in flight before it (after is NULL)
BEGIN;
SELECT wal2proto.xact_setup('0/1000', '2026-01-01 00:00:00+00', NULL);
INSERT INTO peer_t VALUES (1);
COMMIT;
SELECT pg_replication_origin_session_progress(false);

-- behind a transaction that committed
BEGIN;
SELECT wal2proto.xact_setup('0/2000', '2026-01-01 00:00:01+00', '0/1000');
INSERT INTO peer_t VALUES (2);
COMMIT;
SELECT pg_replication_origin_session_progress(false);

-- behind one that did not commit (it would have ended at 0/3000): refused,
-- and the progress stays where it was
BEGIN;
INSERT INTO peer_t VALUES (3);
SELECT wal2proto.xact_setup('0/4000', '2026-01-01 00:00:03+00', '0/3000');
ROLLBACK;
SELECT pg_replication_origin_session_progress(false);
SELECT id FROM peer_t ORDER BY id;

-- without an origin set up in the session: PostgreSQL's own error
SELECT pg_replication_origin_session_reset();
SELECT wal2proto.xact_setup('0/5000', '2026-01-01 00:00:04+00', '0/2000');
SELECT wal2proto.xact_setup('0/5000', '2026-01-01 00:00:04+00', NULL);

DROP TABLE peer_t;
SELECT pg_replication_origin_drop('wal2proto_peer_src');
