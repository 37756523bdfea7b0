-- workload.sql
--    The decoded workload: :rows inserts, then :rows updates, then :rows
--    deletes of bench_t, each phase in transactions of :txn rows.
--
--    psql -v rows=200000 -v txn=1000 -f workload.sql
--
-- psql does not expand its variables inside dollar quotes, so pass them to
-- the DO blocks as session settings.

SELECT set_config('bench.rows', :'rows', false),
       set_config('bench.txn', :'txn', false);

-- Inserts.  Every column is filled: t is 50 characters, doc a small jsonb
-- object, b 16 bytes.
DO $$
DECLARE
    nrows int := current_setting('bench.rows')::int;
    txn   int := current_setting('bench.txn')::int;
    lo    int := 1;
BEGIN
    WHILE lo <= nrows LOOP
        INSERT INTO bench_t
        SELECT i, i,
               left(md5(i::text) || md5((i + 1)::text), 50),
               (i * 1.2345)::numeric(14,4),
               timestamptz '2026-01-01 00:00:00+00' + i * interval '1 second',
               i % 2 = 0,
               jsonb_build_object('k', i, 's', 'abc'),
               decode(md5(i::text), 'hex'),
               md5(i::text)::uuid
          FROM generate_series(lo, least(lo + txn - 1, nrows)) AS i;
        COMMIT;
        lo := lo + txn;
    END LOOP;
END
$$;

-- Updates of n, t, amount, ts and doc; the key does not change.
DO $$
DECLARE
    nrows int := current_setting('bench.rows')::int;
    txn   int := current_setting('bench.txn')::int;
    lo    int := 1;
BEGIN
    WHILE lo <= nrows LOOP
        UPDATE bench_t
           SET n = n + 1,
               t = left(md5((id + 7)::text) || md5((id + 8)::text), 50),
               amount = amount + 1.5,
               ts = ts + interval '1 hour',
               doc = jsonb_build_object('k', id, 's', 'xyz')
         WHERE id BETWEEN lo AND lo + txn - 1;
        COMMIT;
        lo := lo + txn;
    END LOOP;
END
$$;

-- Deletes.
DO $$
DECLARE
    nrows int := current_setting('bench.rows')::int;
    txn   int := current_setting('bench.txn')::int;
    lo    int := 1;
BEGIN
    WHILE lo <= nrows LOOP
        DELETE FROM bench_t WHERE id BETWEEN lo AND lo + txn - 1;
        COMMIT;
        lo := lo + txn;
    END LOOP;
END
$$;
