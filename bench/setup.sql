-- setup.sql
--    Schema for the decoding benchmark: the table the workload writes, the
--    publications pgoutput reads, and the timing function for the SQL
--    interface.  Run once on a fresh database before any slot is created.

CREATE TABLE bench_t (
    id      bigint PRIMARY KEY,
    n       int,
    t       text,
    amount  numeric(14,4),
    ts      timestamptz,
    flag    bool,
    doc     jsonb,
    b       bytea,
    u       uuid
);

-- pgoutput publishes only what a publication names.  bench_none names no
-- table: pgoutput (which holds BEGIN back until a published change) then
-- writes nothing at all, which makes it the "write-nothing" anchor: the cost
-- of reading WAL and reassembling transactions with no output.
CREATE PUBLICATION bench_pub FOR TABLE bench_t;
CREATE PUBLICATION bench_none;

-- CPU time this backend has used so far, in clock ticks (user + system,
-- fields 14 and 15 of Linux's /proc/self/stat).
CREATE FUNCTION bench_cpu_ticks() RETURNS bigint
LANGUAGE sql AS $$
    SELECT f[12]::bigint + f[13]::bigint
      FROM string_to_array(substring(pg_read_file('/proc/self/stat')
                                     FROM '\) (.*)$'), ' ') AS f
$$;

-- Decode every change of a slot through the SQL interface without consuming
-- it, and report how long that took (wall-clock seconds and CPU clock ticks
-- of this backend), how many rows (plugin writes) came back and how many
-- bytes they held.  Timing inside the server keeps connection set-up and
-- client work out of the figures.
CREATE FUNCTION bench_peek(slot name, opts text[],
                           OUT secs float8, OUT cpu_ticks bigint,
                           OUT writes bigint, OUT bytes bigint)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
BEGIN
    cpu_ticks := bench_cpu_ticks();
    t0 := clock_timestamp();
    SELECT count(*), coalesce(sum(octet_length(data)), 0)
      INTO writes, bytes
      FROM pg_logical_slot_peek_binary_changes(slot, NULL, NULL,
                                               VARIADIC opts);
    secs := extract(epoch FROM clock_timestamp() - t0);
    cpu_ticks := bench_cpu_ticks() - cpu_ticks;
END
$$;
