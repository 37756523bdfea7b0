-- e2e_schema.sql
--    Tables of the end-to-end workload: every value family, every replica
--    identity, awkward names.  Created in the source and the replay
--    database alike.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TABLE vals (
  id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8,
  n numeric, n2 numeric(14,4), b bool, t text, vc varchar(20), c char(5),
  nm name, "by" bytea, d date, tm time, ttz timetz, ts timestamp,
  tstz timestamptz, iv interval, u uuid, js json, jb jsonb, ai int[],
  at text[], a2 int[], e mood, pi posint, pt point, r int4range, ip inet,
  bits bit(4), x xml, ad date[], ats timestamptz[]);
CREATE TABLE "Odd ""Name"".x" ("Key col" int PRIMARY KEY, "wé;ird" text);
CREATE TABLE rid_index (a int NOT NULL, b text NOT NULL, v text, big text);
CREATE UNIQUE INDEX rid_index_ab ON rid_index (a, b);
ALTER TABLE rid_index REPLICA IDENTITY USING INDEX rid_index_ab;
CREATE TABLE rid_full (p point, j json, v text, n int);
ALTER TABLE rid_full REPLICA IDENTITY FULL;
CREATE TABLE rid_nothing (a int, v text);
ALTER TABLE rid_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE no_pk (a int, v text);
CREATE TABLE ser (id serial PRIMARY KEY, v text);
CREATE TABLE big (id int PRIMARY KEY, v text);
CREATE TABLE simple (id int PRIMARY KEY, v text, n numeric, b bool, f float8, jb jsonb);
CREATE TABLE marker (id int PRIMARY KEY);
