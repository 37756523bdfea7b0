// plugin_decode_test.cpp
//    End-to-end tests of what the wal2proto plugin writes, held against the
//    C++ classes protoc generates from proto/wal2proto.proto.
//
// Each test case makes changes on a real cluster (started by the ctest
// fixture), reads them back with pg_logical_slot_get_binary_changes, checks
// that every write parses as a wal2proto.v1.Batch (generated classes, no
// unknown fields, and `protoc --decode`), and compares every value with the
// value expected for it.  Expected values are written out by hand below
// (the arithmetic is in the comments) and cross-checked against PostgreSQL's
// own functions (extract(epoch ...), float4send, uuid_send, format_type),
// never against the plugin.  The sessions run with unusual DateStyle,
// TimeZone, IntervalStyle, bytea_output and extra_float_digits: the values
// on the wire must not depend on them.

#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "test_support.h"
#include "wal2proto.pb.h"

namespace w2p_test {
namespace {

namespace pb = wal2proto::v1;

// ---- expected values ----------------------------------------------------

pb::Value Marker(pb::Marker m) {
  pb::Value v;
  v.set_marker(m);
  return v;
}
pb::Value Null() { return Marker(pb::MARKER_NULL); }
pb::Value Unchanged() { return Marker(pb::MARKER_UNCHANGED_TOAST); }
pb::Value NotSent() { return Marker(pb::MARKER_NOT_SENT); }
pb::Value Int(int64_t i) {
  pb::Value v;
  v.set_int_value(i);
  return v;
}
pb::Value Float4Bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  pb::Value v;
  v.set_float4_value(f);
  return v;
}
pb::Value Float8Bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  pb::Value v;
  v.set_float8_value(d);
  return v;
}
pb::Value Numeric(const std::string& s) {
  pb::Value v;
  v.set_numeric_value(s);
  return v;
}
pb::Value Bool(bool b) {
  pb::Value v;
  v.set_bool_value(b);
  return v;
}
pb::Value Text(const std::string& s) {
  pb::Value v;
  v.set_text_value(s);
  return v;
}
pb::Value Bytea(const std::string& s) {
  pb::Value v;
  v.set_bytea_value(s);
  return v;
}
pb::Value Date(int32_t days) {
  pb::Value v;
  v.set_date_value(days);
  return v;
}
pb::Value Time(int64_t us) {
  pb::Value v;
  v.set_time_value(us);
  return v;
}
pb::Value TimeTz(int64_t us, int32_t utc_offset) {
  pb::Value v;
  v.mutable_timetz_value()->set_time(us);
  v.mutable_timetz_value()->set_utc_offset(utc_offset);
  return v;
}
pb::Value Timestamp(int64_t us) {
  pb::Value v;
  v.set_timestamp_value(us);
  return v;
}
pb::Value TimestampTz(int64_t us) {
  pb::Value v;
  v.set_timestamptz_value(us);
  return v;
}
pb::Value Infinity(bool positive) {
  pb::Value v;
  v.set_infinity(positive ? pb::INFINITY_POSITIVE : pb::INFINITY_NEGATIVE);
  return v;
}
pb::Value Interval(int32_t months, int32_t days, int64_t us) {
  pb::Value v;
  v.mutable_interval_value()->set_months(months);
  v.mutable_interval_value()->set_days(days);
  v.mutable_interval_value()->set_microseconds(us);
  return v;
}
pb::Value Uuid(const std::string& bytes) {
  pb::Value v;
  v.set_uuid_value(bytes);
  return v;
}
pb::Value Json(const std::string& s) {
  pb::Value v;
  v.set_json_value(s);
  return v;
}
pb::Value TextOutput(const std::string& s) {
  pb::Value v;
  v.set_text_output(s);
  return v;
}
pb::Value Array(uint32_t element_oid, std::vector<int32_t> dims,
                std::vector<int32_t> lower_bounds,
                std::vector<pb::Value> elements) {
  pb::Value v;
  pb::Array* a = v.mutable_array_value();
  a->set_element_type_oid(element_oid);
  for (int32_t d : dims) a->add_dimensions(d);
  for (int32_t l : lower_bounds) a->add_lower_bounds(l);
  for (auto& e : elements) *a->add_elements() = e;
  return v;
}

// Exact equality: same member of the oneof, same contents.  Floats compare
// by their bits (so NaN equals the same NaN, and -0 differs from 0).
void RequireSameValue(const pb::Value& expected, const pb::Value& actual,
                      const std::string& what) {
  INFO(what << "\n  expected: " << expected.ShortDebugString()
            << "\n  actual:   " << actual.ShortDebugString());
  REQUIRE(actual.kind_case() == expected.kind_case());
  if (expected.kind_case() == pb::Value::kFloat4Value) {
    float e = expected.float4_value(), a = actual.float4_value();
    REQUIRE(std::memcmp(&e, &a, sizeof(e)) == 0);
  } else if (expected.kind_case() == pb::Value::kFloat8Value) {
    double e = expected.float8_value(), a = actual.float8_value();
    REQUIRE(std::memcmp(&e, &a, sizeof(e)) == 0);
  }
  // Byte-for-byte equality of the re-encoded values covers every member,
  // nested ones (arrays, intervals) included.
  std::string e_bytes, a_bytes;
  REQUIRE(expected.SerializeToString(&e_bytes));
  REQUIRE(actual.SerializeToString(&a_bytes));
  REQUIRE(a_bytes == e_bytes);
}

void RequireSameTuple(const std::vector<pb::Value>& expected,
                      const pb::Tuple& actual, const pb::Relation& rel,
                      const std::string& what) {
  INFO(what << " of " << rel.name());
  REQUIRE(actual.values_size() == static_cast<int>(expected.size()));
  for (size_t i = 0; i < expected.size(); i++) {
    RequireSameValue(
        expected[i], actual.values(static_cast<int>(i)),
        what + " column " + rel.columns(static_cast<int>(i)).name());
  }
}

// ---- expected relations -------------------------------------------------

struct ColumnSpec {
  std::string name;
  uint32_t type_oid;
  int32_t type_modifier;
  std::string type_name;
  bool identity;
  bool primary_key;
  bool not_null;
  uint32_t base_type_oid;
};

// Cross-checks the hand-written specs against the catalogs (catches typos in
// this file), then the plugin's Relation against the specs.
void RequireRelation(Db& db, const pb::Relation& rel, const std::string& table,
                     pb::ReplicaIdentity identity,
                     const std::vector<ColumnSpec>& cols) {
  INFO("Relation of " << table << ": " << rel.ShortDebugString());
  PgResultPtr res = db.Exec(
      "SELECT attname, atttypid::text, atttypmod::text,"
      "       CASE WHEN n.nspname = 'pg_catalog'"
      "            THEN format_type(atttypid, atttypmod)"
      "            ELSE quote_ident(n.nspname) || '.' || quote_ident(t.typname)"
      "       END"
      "  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
      "  JOIN pg_namespace n ON n.oid = t.typnamespace"
      " WHERE attrelid = '" +
      table +
      "'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum");
  REQUIRE(PQntuples(res.get()) == static_cast<int>(cols.size()));
  for (size_t i = 0; i < cols.size(); i++) {
    int r = static_cast<int>(i);
    INFO("catalog column " << i);
    REQUIRE(cols[i].name == PQgetvalue(res.get(), r, 0));
    REQUIRE(cols[i].type_oid == ParseU64(PQgetvalue(res.get(), r, 1)));
    REQUIRE(cols[i].type_modifier == ParseI64(PQgetvalue(res.get(), r, 2)));
    REQUIRE(cols[i].type_name == PQgetvalue(res.get(), r, 3));
  }

  REQUIRE(rel.relation_id() ==
          ParseU64(db.Scalar("SELECT '" + table + "'::regclass::oid::text")));
  REQUIRE(rel.schema() == "public");
  REQUIRE(rel.name() == table);
  REQUIRE(rel.replica_identity() == identity);
  REQUIRE(rel.columns_size() == static_cast<int>(cols.size()));
  for (size_t i = 0; i < cols.size(); i++) {
    const pb::Column& c = rel.columns(static_cast<int>(i));
    INFO("column " << i << ": " << c.ShortDebugString());
    CHECK(c.name() == cols[i].name);
    CHECK(c.type_oid() == cols[i].type_oid);
    CHECK(c.type_modifier() == cols[i].type_modifier);
    CHECK(c.type_name() == cols[i].type_name);
    CHECK(c.identity() == cols[i].identity);
    CHECK(c.primary_key() == cols[i].primary_key);
    CHECK(c.not_null() == cols[i].not_null);
    CHECK(c.base_type_oid() == cols[i].base_type_oid);
  }
}

uint64_t InsertLsn(Db& db) {
  return ParseU64(
      db.Scalar("SELECT (pg_current_wal_insert_lsn() - '0/0')::text"));
}

// ---- the value-family test ----------------------------------------------

// Built-in type oids (pg_type.dat).
constexpr uint32_t kBoolOid = 16, kByteaOid = 17, kCharOid = 18, kNameOid = 19,
                   kInt8Oid = 20, kInt2Oid = 21, kInt4Oid = 23, kTextOid = 25,
                   kOidOid = 26, kJsonOid = 114, kFloat4Oid = 700,
                   kFloat8Oid = 701, kBpcharOid = 1042, kVarcharOid = 1043,
                   kDateOid = 1082, kTimeOid = 1083, kTimestampOid = 1114,
                   kTimestampTzOid = 1184, kIntervalOid = 1186,
                   kTimeTzOid = 1266, kNumericOid = 1700, kUuidOid = 2950,
                   kJsonbOid = 3802, kInt4ArrayOid = 1007, kTextArrayOid = 1009;

const char* const kTypesDdl = R"sql(
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a integer, b text);
CREATE TABLE types_t (
    id integer PRIMARY KEY,
    c_int2 smallint, c_int4 integer, c_int8 bigint, c_oid oid,
    c_float4 real, c_float8 double precision,
    c_numeric numeric, c_numeric_big numeric, c_numeric_typmod numeric(14,4),
    c_bool boolean,
    c_text text, c_varchar varchar(10), c_bpchar char(5), c_name name,
    c_char "char",
    c_bytea bytea,
    c_date date, c_time time, c_timetz timetz, c_ts timestamp,
    c_tstz timestamptz, c_interval interval,
    c_uuid uuid, c_json json, c_jsonb jsonb,
    c_int_arr integer[], c_text_arr text[],
    c_domain posint, c_enum mood, c_comp pair
);
)sql";

// Intervals in ISO 8601 form, which reads the same under every
// IntervalStyle.
const char* const kTypesInsert = R"sql(
INSERT INTO types_t VALUES (1,
    -32768, 2147483647, -9223372036854775808, 4294967295,
    '1.1', '0.1',
    '-12.3400', '1234567890123456789012345678901234567890.0123456789',
    '1234567890.1234',
    true,
    'héllo wörld 日本語 🐘', 'ñandú', 'ab', 'Ωmega', 'x',
    '\x00ff000141',
    '2024-02-29', '13:45:56.123456', '13:45:56.5+05:30',
    '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012+02',
    'P1Y2M3DT4H5M6.789S',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '{"b": 1,  "a": [1, 2]}', '{"b": 1,  "a": [1, 2]}',
    '[0:1][-1:1]={{1,NULL,3},{4,5,NULL}}', '{"a,b",NULL,"日本"}',
    42, 'happy', ROW(1, 'x y'));
INSERT INTO types_t VALUES (2,
    32767, -2147483648, 9223372036854775807, 0,
    'NaN', '-Infinity',
    'Infinity', '-Infinity', 'NaN',
    false,
    '', 'x', 'abcde', 'n', 'Z',
    '\x',
    'infinity', '24:00:00', '00:00:01-08',
    '0044-03-15 12:00:00 BC', '-infinity',
    'P-1M2DT-1.5S',
    '00000000-0000-0000-0000-000000000000',
    '[]', '"日本"',
    '{}', '{{a,b},{NULL,"日本"}}',
    1, 'sad', ROW(NULL, ''));
INSERT INTO types_t (id) VALUES (3);
INSERT INTO types_t (id, c_int2, c_float4, c_float8, c_numeric, c_numeric_big,
                     c_date, c_time, c_ts, c_tstz)
    VALUES (4, 0, '-0', 'NaN', '0', '0.000000000000000000000000000000000000001',
            '0044-03-15 BC', '00:00:00', 'infinity',
            '0100-01-01 00:00:00+00 BC');
INSERT INTO types_t (id, c_int8, c_float4, c_float8, c_date)
    VALUES (5, 0, '1.4e-45', 'Infinity', '-infinity');
)sql";

std::vector<std::vector<pb::Value>> ExpectedTypeRows() {
  const std::string kUuid1(
      "\xa0\xee\xbc\x99\x9c\x0b\x4e\xf8\xbb\x6d\x6b\xb9\xbd\x38\x0a\x11", 16);
  std::vector<std::vector<pb::Value>> rows;
  rows.push_back({
      Int(1),
      Int(-32768),
      Int(2147483647),
      Int(INT64_MIN),
      Int(4294967295LL),
      Float4Bits(0x3f8ccccd),             // 1.1f
      Float8Bits(0x3fb999999999999aULL),  // 0.1
      Numeric("-12.3400"),
      Numeric("1234567890123456789012345678901234567890.0123456789"),
      Numeric("1234567890.1234"),
      Bool(true),
      Text("héllo wörld 日本語 🐘"),
      Text("ñandú"),
      Text("ab   "),
      Text("Ωmega"),
      Text("x"),
      Bytea(std::string("\x00\xff\x00\x01\x41", 5)),
      // 2024-02-29: 54 years since 1970 = 19723 days (13 leap days) + 59.
      Date(19782),
      // ((13 * 60 + 45) * 60 + 56) s = 49556 s.
      Time(49556123456LL),
      // Local time of day; +05:30 is 19800 s east of UTC.
      TimeTz(49556500000LL, 19800),
      // 19782 days * 86400 s + 45296 s (12:34:56).
      Timestamp(1709210096789012LL),
      // The same wall clock at +02, 2 h = 7200 s earlier in UTC.
      TimestampTz(1709202896789012LL),
      // 1 year 2 months; 3 days; 04:05:06.789 = 14706.789 s.
      Interval(14, 3, 14706789000LL),
      Uuid(kUuid1),
      Json(R"({"b": 1,  "a": [1, 2]})"),
      // jsonb's canonical text: keys sorted, single spaces.
      Json(R"({"a": [1, 2], "b": 1})"),
      Array(kInt4Oid, {2, 3}, {0, -1},
            {Int(1), Null(), Int(3), Int(4), Int(5), Null()}),
      Array(kTextOid, {3}, {1}, {Text("a,b"), Null(), Text("日本")}),
      Int(42),  // the domain travels as its base type
      TextOutput("happy"),
      TextOutput("(1,\"x y\")"),
  });
  rows.push_back({
      Int(2),
      Int(32767),
      Int(-2147483648LL),
      Int(INT64_MAX),
      Int(0),
      Float4Bits(0x7fc00000),             // NaN
      Float8Bits(0xfff0000000000000ULL),  // -Infinity
      Numeric("Infinity"),
      Numeric("-Infinity"),
      Numeric("NaN"),
      Bool(false),
      Text(""),
      Text("x"),
      Text("abcde"),
      Text("n"),
      Text("Z"),
      Bytea(""),
      Infinity(true),
      Time(86400000000LL),      // 24:00:00
      TimeTz(1000000, -28800),  // 00:00:01-08
      // 0044-03-15 BC is year -43: day -735160 from 1970-01-01 (proleptic
      // Gregorian), plus 12 h.
      Timestamp(-63517780800000000LL),
      Infinity(false),
      // P-1M2DT-1.5S.
      Interval(-1, 2, -1500000),
      Uuid(std::string(16, '\0')),
      Json("[]"),
      Json("\"日本\""),
      Array(kInt4Oid, {}, {}, {}),
      Array(kTextOid, {2, 2}, {1, 1},
            {Text("a"), Text("b"), Null(), Text("日本")}),
      Int(1),
      TextOutput("sad"),
      TextOutput("(,\"\")"),
  });
  std::vector<pb::Value> nulls(31, Null());
  nulls[0] = Int(3);
  rows.push_back(nulls);

  std::vector<pb::Value> row4(31, Null());
  row4[0] = Int(4);
  row4[1] = Int(0);                             // c_int2
  row4[5] = Float4Bits(0x80000000);             // -0
  row4[6] = Float8Bits(0x7ff8000000000000ULL);  // NaN
  row4[7] = Numeric("0");
  row4[8] = Numeric("0.000000000000000000000000000000000000001");
  row4[17] = Date(-735160);  // 0044-03-15 BC
  row4[18] = Time(0);
  row4[20] = Infinity(true);  // c_ts
  // 0100-01-01 BC (year -99) is day -755687 from 1970-01-01 (proleptic
  // Gregorian), at 00:00 UTC.
  row4[21] = TimestampTz(-65291356800000000LL);
  rows.push_back(row4);

  std::vector<pb::Value> row5(31, Null());
  row5[0] = Int(5);
  row5[3] = Int(0);                             // c_int8
  row5[5] = Float4Bits(0x00000001);             // smallest denormal
  row5[6] = Float8Bits(0x7ff0000000000000ULL);  // Infinity
  row5[17] = Infinity(false);                   // c_date
  rows.push_back(row5);
  return rows;
}

std::vector<ColumnSpec> TypesColumns(Db& db) {
  auto oid = [&db](const char* type) {
    return static_cast<uint32_t>(ParseU64(
        db.Scalar(std::string("SELECT '") + type + "'::regtype::oid::text")));
  };
  //   name, oid, typmod, type_name, identity, primary_key, not_null, base
  return {
      {"id", kInt4Oid, -1, "integer", true, true, true, 0},
      {"c_int2", kInt2Oid, -1, "smallint", false, false, false, 0},
      {"c_int4", kInt4Oid, -1, "integer", false, false, false, 0},
      {"c_int8", kInt8Oid, -1, "bigint", false, false, false, 0},
      {"c_oid", kOidOid, -1, "oid", false, false, false, 0},
      {"c_float4", kFloat4Oid, -1, "real", false, false, false, 0},
      {"c_float8", kFloat8Oid, -1, "double precision", false, false, false, 0},
      {"c_numeric", kNumericOid, -1, "numeric", false, false, false, 0},
      {"c_numeric_big", kNumericOid, -1, "numeric", false, false, false, 0},
      // (14 << 16 | 4) + 4 (VARHDRSZ)
      {"c_numeric_typmod", kNumericOid, 917512, "numeric(14,4)", false, false,
       false, 0},
      {"c_bool", kBoolOid, -1, "boolean", false, false, false, 0},
      {"c_text", kTextOid, -1, "text", false, false, false, 0},
      {"c_varchar", kVarcharOid, 14, "character varying(10)", false, false,
       false, 0},
      {"c_bpchar", kBpcharOid, 9, "character(5)", false, false, false, 0},
      {"c_name", kNameOid, -1, "name", false, false, false, 0},
      {"c_char", kCharOid, -1, "\"char\"", false, false, false, 0},
      {"c_bytea", kByteaOid, -1, "bytea", false, false, false, 0},
      {"c_date", kDateOid, -1, "date", false, false, false, 0},
      {"c_time", kTimeOid, -1, "time without time zone", false, false, false,
       0},
      {"c_timetz", kTimeTzOid, -1, "time with time zone", false, false, false,
       0},
      {"c_ts", kTimestampOid, -1, "timestamp without time zone", false, false,
       false, 0},
      {"c_tstz", kTimestampTzOid, -1, "timestamp with time zone", false, false,
       false, 0},
      {"c_interval", kIntervalOid, -1, "interval", false, false, false, 0},
      {"c_uuid", kUuidOid, -1, "uuid", false, false, false, 0},
      {"c_json", kJsonOid, -1, "json", false, false, false, 0},
      {"c_jsonb", kJsonbOid, -1, "jsonb", false, false, false, 0},
      {"c_int_arr", kInt4ArrayOid, -1, "integer[]", false, false, false, 0},
      {"c_text_arr", kTextArrayOid, -1, "text[]", false, false, false, 0},
      {"c_domain", oid("posint"), -1, "public.posint", false, false, false,
       kInt4Oid},
      {"c_enum", oid("mood"), -1, "public.mood", false, false, false, 0},
      {"c_comp", oid("pair"), -1, "public.pair", false, false, false, 0},
  };
}

// The hand-computed numbers above, recomputed by PostgreSQL from the stored
// rows.  Only checks this file's arithmetic; the plugin is not involved.
void CrossCheckExpectations(Db& db,
                            const std::vector<std::vector<pb::Value>>& rows) {
  struct Check {
    int id;
    int col;
    std::string sql;  // an expression over types_t giving the expected text
  };
  const std::vector<Check> checks = {
      {1, 5, "encode(float4send(c_float4), 'hex')"},
      {1, 6, "encode(float8send(c_float8), 'hex')"},
      {2, 5, "encode(float4send(c_float4), 'hex')"},
      {2, 6, "encode(float8send(c_float8), 'hex')"},
      {4, 5, "encode(float4send(c_float4), 'hex')"},
      {4, 6, "encode(float8send(c_float8), 'hex')"},
      {5, 5, "encode(float4send(c_float4), 'hex')"},
      {5, 6, "encode(float8send(c_float8), 'hex')"},
      {1, 17, "(c_date - date '1970-01-01')::text"},
      {4, 17, "(c_date - date '1970-01-01')::text"},
      {1, 18, "(extract(epoch FROM c_time) * 1000000)::int8::text"},
      {2, 18, "(extract(epoch FROM c_time) * 1000000)::int8::text"},
      {1, 19,
       "(extract(epoch FROM c_timetz::time) * 1000000)::int8::text || ' ' ||"
       " extract(timezone FROM c_timetz)::text"},
      {2, 19,
       "(extract(epoch FROM c_timetz::time) * 1000000)::int8::text || ' ' ||"
       " extract(timezone FROM c_timetz)::text"},
      {1, 20, "(extract(epoch FROM c_ts) * 1000000)::int8::text"},
      {2, 20, "(extract(epoch FROM c_ts) * 1000000)::int8::text"},
      {1, 21, "(extract(epoch FROM c_tstz) * 1000000)::int8::text"},
      {4, 21, "(extract(epoch FROM c_tstz) * 1000000)::int8::text"},
      {1, 22,
       "(extract(year FROM c_interval) * 12 + extract(month FROM c_interval))"
       "::text || ' ' || extract(day FROM c_interval)::text || ' ' ||"
       " ((extract(hour FROM c_interval) * 3600 + extract(minute FROM "
       "c_interval) * 60) * 1000000 + extract(microseconds FROM c_interval))"
       "::int8::text"},
      {2, 22,
       "(extract(year FROM c_interval) * 12 + extract(month FROM c_interval))"
       "::text || ' ' || extract(day FROM c_interval)::text || ' ' ||"
       " ((extract(hour FROM c_interval) * 3600 + extract(minute FROM "
       "c_interval) * 60) * 1000000 + extract(microseconds FROM c_interval))"
       "::int8::text"},
      {1, 23, "encode(uuid_send(c_uuid), 'hex')"},
      {1, 25, "c_jsonb::text"},
      {2, 25, "c_jsonb::text"},
      {1, 7, "c_numeric::text"},
      {1, 8, "c_numeric_big::text"},
      {4, 8, "c_numeric_big::text"},
      {1, 30, "c_comp::text"},
      {2, 30, "c_comp::text"},
  };
  auto hex = [](const void* p, size_t n) {
    // float4send/float8send are big-endian; print our bits the same way.
    std::string out;
    const unsigned char* b = static_cast<const unsigned char*>(p);
    static const char* kDigits = "0123456789abcdef";
    for (size_t i = n; i-- > 0;) {
      out.push_back(kDigits[b[i] >> 4]);
      out.push_back(kDigits[b[i] & 15]);
    }
    return out;
  };
  for (const Check& c : checks) {
    std::string got = db.Scalar(
        "SELECT " + c.sql + " FROM types_t WHERE id = " + std::to_string(c.id));
    const pb::Value& v = rows[c.id - 1][c.col];
    std::string mine;
    switch (v.kind_case()) {
      case pb::Value::kFloat4Value: {
        float f = v.float4_value();
        mine = hex(&f, sizeof(f));
        break;
      }
      case pb::Value::kFloat8Value: {
        double d = v.float8_value();
        mine = hex(&d, sizeof(d));
        break;
      }
      case pb::Value::kDateValue:
        mine = std::to_string(v.date_value());
        break;
      case pb::Value::kTimeValue:
        mine = std::to_string(v.time_value());
        break;
      case pb::Value::kTimetzValue:
        mine = std::to_string(v.timetz_value().time()) + " " +
               std::to_string(v.timetz_value().utc_offset());
        break;
      case pb::Value::kTimestampValue:
        mine = std::to_string(v.timestamp_value());
        break;
      case pb::Value::kTimestamptzValue:
        mine = std::to_string(v.timestamptz_value());
        break;
      case pb::Value::kIntervalValue:
        mine = std::to_string(v.interval_value().months()) + " " +
               std::to_string(v.interval_value().days()) + " " +
               std::to_string(v.interval_value().microseconds());
        break;
      case pb::Value::kUuidValue: {
        const std::string& u = v.uuid_value();
        for (unsigned char ch : u) {
          static const char* kDigits = "0123456789abcdef";
          mine.push_back(kDigits[ch >> 4]);
          mine.push_back(kDigits[ch & 15]);
        }
        break;
      }
      case pb::Value::kJsonValue:
        mine = v.json_value();
        break;
      case pb::Value::kNumericValue:
        mine = v.numeric_value();
        break;
      case pb::Value::kTextOutput:
        mine = v.text_output();
        break;
      default:
        FAIL("no cross-check for " << v.ShortDebugString());
    }
    INFO("cross-check of row " << c.id << " column " << c.col << ": " << c.sql);
    REQUIRE(mine == got);
  }
}

TEST_CASE("every value family decodes to exactly the stored value",
          "[plugin][types]") {
  auto db = FreshDatabase("w2p_decode_types");
  db->Exec(kTypesDdl);
  db->Exec("SELECT pg_create_logical_replication_slot('types', 'wal2proto')");

  uint64_t before = InsertLsn(*db);
  db->Exec("BEGIN");
  db->Exec(kTypesInsert);
  std::string xid = db->Scalar("SELECT pg_current_xact_id()::text");
  db->Exec("COMMIT");
  uint64_t after = InsertLsn(*db);
  int64_t commit_us = ParseI64(
      db->Scalar("SELECT (extract(epoch FROM pg_xact_commit_timestamp('" + xid +
                 "'::xid)) * 1000000)::int8::text"));

  auto rows = ExpectedTypeRows();
  CrossCheckExpectations(*db, rows);

  std::vector<Write> writes = GetChanges(*db, "types", {"proto-version", "1"});
  REQUIRE_FALSE(writes.empty());
  std::vector<pb::Message> msgs = Flatten(writes);
  std::vector<std::string> kinds;
  for (const auto& m : msgs) kinds.push_back(KindName(m));
  REQUIRE(kinds == std::vector<std::string>{"begin", "relation", "insert",
                                            "insert", "insert", "insert",
                                            "insert", "commit"});

  // Transaction boundaries.
  const pb::Begin& begin = msgs.front().begin();
  const pb::Commit& commit = msgs.back().commit();
  CHECK(begin.xid() == ParseU64(xid));
  CHECK(commit.xid() == ParseU64(xid));
  CHECK(begin.final_lsn() == commit.commit_lsn());
  CHECK(before < commit.commit_lsn());
  CHECK(commit.commit_lsn() < commit.end_lsn());
  CHECK(commit.end_lsn() <= after);
  CHECK(begin.commit_time() == commit_us);
  CHECK(commit.commit_time() == commit_us);
  CHECK(begin.origin().empty());
  CHECK(begin.origin_lsn() == 0);
  // The write that carries Commit is reported at the end of the commit
  // record, and every write at the transaction's xid.
  const Write& last = writes.back();
  REQUIRE(last.batch.messages(last.batch.messages_size() - 1).has_commit());
  CHECK(last.lsn == commit.end_lsn());
  for (const Write& w : writes) CHECK(w.xid == ParseU64(xid));

  const pb::Relation& rel = msgs[1].relation();
  RequireRelation(*db, rel, "types_t", pb::REPLICA_IDENTITY_DEFAULT,
                  TypesColumns(*db));

  for (size_t r = 0; r < rows.size(); r++) {
    const pb::Insert& ins = msgs[2 + r].insert();
    CHECK(ins.relation_id() == rel.relation_id());
    REQUIRE(ins.has_new_tuple());
    RequireSameTuple(rows[r], ins.new_tuple(), rel,
                     "insert of row " + std::to_string(r + 1));
  }
}

TEST_CASE("old tuples under REPLICA IDENTITY FULL carry every value family",
          "[plugin][types][identity]") {
  auto db = FreshDatabase("w2p_decode_types_full");
  db->Exec(kTypesDdl);
  db->Exec("ALTER TABLE types_t REPLICA IDENTITY FULL");
  db->Exec(kTypesInsert);
  db->Exec("SELECT pg_create_logical_replication_slot('full', 'wal2proto')");
  db->Exec("DELETE FROM types_t");

  std::vector<Write> writes = GetChanges(*db, "full", {"proto-version", "1"});
  std::vector<pb::Message> msgs = Flatten(writes);
  auto rows = ExpectedTypeRows();
  REQUIRE(msgs.size() == rows.size() + 3);
  REQUIRE(msgs.front().has_begin());
  REQUIRE(msgs[1].has_relation());
  REQUIRE(msgs.back().has_commit());

  std::vector<ColumnSpec> cols = TypesColumns(*db);
  for (auto& c : cols) c.identity = true;  // FULL: every column
  const pb::Relation& rel = msgs[1].relation();
  RequireRelation(*db, rel, "types_t", pb::REPLICA_IDENTITY_FULL, cols);

  // A sequential scan deletes in insertion order.
  for (size_t r = 0; r < rows.size(); r++) {
    INFO("delete of row " << r + 1);
    REQUIRE(msgs[2 + r].has_delete_());
    const pb::Delete& del = msgs[2 + r].delete_();
    CHECK(del.relation_id() == rel.relation_id());
    REQUIRE(del.has_old_tuple());
    RequireSameTuple(rows[r], del.old_tuple(), rel,
                     "old tuple of row " + std::to_string(r + 1));
  }
}

// ---- replica identities, updates, deletes, unchanged TOAST --------------

const char* const kIdentityDdl = R"sql(
CREATE TABLE pk_t (id integer PRIMARY KEY, v text, big text);
ALTER TABLE pk_t ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE TABLE full_t (id integer, v text);
ALTER TABLE full_t REPLICA IDENTITY FULL;
CREATE TABLE nothing_t (id integer PRIMARY KEY, v text);
ALTER TABLE nothing_t REPLICA IDENTITY NOTHING;
CREATE TABLE idx_t (a integer NOT NULL, b integer NOT NULL, v text);
CREATE UNIQUE INDEX idx_t_ab ON idx_t (a, b);
ALTER TABLE idx_t REPLICA IDENTITY USING INDEX idx_t_ab;
CREATE TABLE nokey_t (id integer, v text);
)sql";

// One statement per transaction, in this order.
const std::vector<std::string> kIdentityDml = {
    "INSERT INTO pk_t VALUES (1, 'a', repeat('0123456789', 1000))",
    "UPDATE pk_t SET v = 'b' WHERE id = 1",
    "UPDATE pk_t SET id = 2 WHERE id = 1",
    "DELETE FROM pk_t WHERE id = 2",
    "INSERT INTO full_t VALUES (1, 'x')",
    "UPDATE full_t SET v = 'y'",
    "DELETE FROM full_t",
    "INSERT INTO nothing_t VALUES (1, 'x')",
    "UPDATE nothing_t SET id = 5",
    "DELETE FROM nothing_t",
    "INSERT INTO idx_t VALUES (1, 2, 'x')",
    "UPDATE idx_t SET v = 'y'",
    "UPDATE idx_t SET b = 3",
    "DELETE FROM idx_t",
    "INSERT INTO nokey_t VALUES (1, 'x')",
    "UPDATE nokey_t SET v = 'y'",
    "DELETE FROM nokey_t",
};

// What each statement above must produce.
struct ExpectedChange {
  std::string kind;  // insert, update, delete
  std::string table;
  bool has_old;
  std::vector<pb::Value> old_values;
  std::vector<pb::Value> new_values;
};

std::vector<ExpectedChange> ExpectedIdentityChanges() {
  std::string big;
  for (int i = 0; i < 1000; i++) big += "0123456789";
  return {
      {"insert", "pk_t", false, {}, {Int(1), Text("a"), Text(big)}},
      // The TOASTed column did not change: marker, not value.
      {"update", "pk_t", false, {}, {Int(1), Text("b"), Unchanged()}},
      // Key change: the old key, the rest not sent.
      {"update",
       "pk_t",
       true,
       {Int(1), NotSent(), NotSent()},
       {Int(2), Text("b"), Unchanged()}},
      {"delete", "pk_t", true, {Int(2), NotSent(), NotSent()}, {}},
      {"insert", "full_t", false, {}, {Int(1), Text("x")}},
      {"update", "full_t", true, {Int(1), Text("x")}, {Int(1), Text("y")}},
      {"delete", "full_t", true, {Int(1), Text("y")}, {}},
      {"insert", "nothing_t", false, {}, {Int(1), Text("x")}},
      {"update", "nothing_t", false, {}, {Int(5), Text("x")}},
      {"delete", "nothing_t", false, {}, {}},
      {"insert", "idx_t", false, {}, {Int(1), Int(2), Text("x")}},
      {"update", "idx_t", false, {}, {Int(1), Int(2), Text("y")}},
      {"update",
       "idx_t",
       true,
       {Int(1), Int(2), NotSent()},
       {Int(1), Int(3), Text("y")}},
      {"delete", "idx_t", true, {Int(1), Int(3), NotSent()}, {}},
      {"insert", "nokey_t", false, {}, {Int(1), Text("x")}},
      {"update", "nokey_t", false, {}, {Int(1), Text("y")}},
      {"delete", "nokey_t", false, {}, {}},
  };
}

TEST_CASE("updates and deletes under every replica identity",
          "[plugin][identity]") {
  auto db = FreshDatabase("w2p_decode_identity");
  db->Exec(kIdentityDdl);
  db->Exec("SELECT pg_create_logical_replication_slot('ident', 'wal2proto')");
  std::vector<std::string> xids;
  for (const std::string& sql : kIdentityDml) {
    db->Exec("BEGIN");
    db->Exec(sql);
    xids.push_back(db->Scalar("SELECT pg_current_xact_id()::text"));
    db->Exec("COMMIT");
    // The big value must really live out of line for the TOAST case.
    if (sql.rfind("INSERT INTO pk_t", 0) == 0) {
      REQUIRE(db->Scalar("SELECT pg_relation_size(reltoastrelid) > 0"
                         " FROM pg_class WHERE relname = 'pk_t'") == "t");
      REQUIRE(db->Scalar("SELECT octet_length(big) FROM pk_t") == "10000");
    }
  }

  // batch-bytes 0: every message is a write of its own.
  std::vector<Write> writes =
      GetChanges(*db, "ident", {"proto-version", "1", "batch-bytes", "0"});
  for (const Write& w : writes) REQUIRE(w.batch.messages_size() == 1);
  std::vector<pb::Message> msgs = Flatten(writes);

  // Split into transactions; each is Begin, [Relation], change, Commit.
  std::map<uint32_t, pb::Relation> relations;
  std::vector<ExpectedChange> expected = ExpectedIdentityChanges();
  size_t i = 0;
  for (size_t t = 0; t < expected.size(); t++) {
    const ExpectedChange& exp = expected[t];
    INFO("statement " << t << ": " << kIdentityDml[t]);
    REQUIRE(i < msgs.size());
    REQUIRE(msgs[i].has_begin());
    CHECK(msgs[i].begin().xid() == ParseU64(xids[t]));
    uint64_t final_lsn = msgs[i].begin().final_lsn();
    i++;
    while (i < msgs.size() && msgs[i].has_relation()) {
      relations[msgs[i].relation().relation_id()] = msgs[i].relation();
      i++;
    }
    REQUIRE(i < msgs.size());
    const pb::Message& change = msgs[i++];
    INFO("change: " << change.ShortDebugString());
    REQUIRE(KindName(change) == exp.kind);
    uint32_t relid = static_cast<uint32_t>(ParseU64(
        db->Scalar("SELECT '" + exp.table + "'::regclass::oid::text")));
    // A Relation for the table came before its first change.
    REQUIRE(relations.count(relid) == 1);
    const pb::Relation& rel = relations[relid];
    if (exp.kind == "insert") {
      CHECK(change.insert().relation_id() == relid);
      REQUIRE(change.insert().has_new_tuple());
      RequireSameTuple(exp.new_values, change.insert().new_tuple(), rel, "new");
    } else if (exp.kind == "update") {
      CHECK(change.update().relation_id() == relid);
      REQUIRE(change.update().has_old_tuple() == exp.has_old);
      if (exp.has_old) {
        RequireSameTuple(exp.old_values, change.update().old_tuple(), rel,
                         "old");
      }
      REQUIRE(change.update().has_new_tuple());
      RequireSameTuple(exp.new_values, change.update().new_tuple(), rel, "new");
    } else {
      CHECK(change.delete_().relation_id() == relid);
      REQUIRE(change.delete_().has_old_tuple() == exp.has_old);
      if (exp.has_old) {
        RequireSameTuple(exp.old_values, change.delete_().old_tuple(), rel,
                         "old");
      }
    }
    REQUIRE(i < msgs.size());
    REQUIRE(msgs[i].has_commit());
    CHECK(msgs[i].commit().commit_lsn() == final_lsn);
    CHECK(msgs[i].commit().xid() == ParseU64(xids[t]));
    i++;
  }
  CHECK(i == msgs.size());

  RequireRelation(
      *db,
      relations[ParseU64(db->Scalar("SELECT 'pk_t'::regclass::oid::text"))],
      "pk_t", pb::REPLICA_IDENTITY_DEFAULT,
      {{"id", kInt4Oid, -1, "integer", true, true, true, 0},
       {"v", kTextOid, -1, "text", false, false, false, 0},
       {"big", kTextOid, -1, "text", false, false, false, 0}});
  RequireRelation(
      *db,
      relations[ParseU64(db->Scalar("SELECT 'full_t'::regclass::oid::text"))],
      "full_t", pb::REPLICA_IDENTITY_FULL,
      {{"id", kInt4Oid, -1, "integer", true, false, false, 0},
       {"v", kTextOid, -1, "text", true, false, false, 0}});
  RequireRelation(*db,
                  relations[ParseU64(
                      db->Scalar("SELECT 'nothing_t'::regclass::oid::text"))],
                  "nothing_t", pb::REPLICA_IDENTITY_NOTHING,
                  {{"id", kInt4Oid, -1, "integer", false, true, true, 0},
                   {"v", kTextOid, -1, "text", false, false, false, 0}});
  RequireRelation(
      *db,
      relations[ParseU64(db->Scalar("SELECT 'idx_t'::regclass::oid::text"))],
      "idx_t", pb::REPLICA_IDENTITY_INDEX,
      {{"a", kInt4Oid, -1, "integer", true, false, true, 0},
       {"b", kInt4Oid, -1, "integer", true, false, true, 0},
       {"v", kTextOid, -1, "text", false, false, false, 0}});
  RequireRelation(
      *db,
      relations[ParseU64(db->Scalar("SELECT 'nokey_t'::regclass::oid::text"))],
      "nokey_t", pb::REPLICA_IDENTITY_DEFAULT,
      {{"id", kInt4Oid, -1, "integer", false, false, false, 0},
       {"v", kTextOid, -1, "text", false, false, false, 0}});
}

}  // namespace
}  // namespace w2p_test

// ---- streamed transactions ----------------------------------------------

namespace w2p_test {
namespace {

TEST_CASE("a streamed transaction with a rolled-back savepoint",
          "[plugin][streaming]") {
  auto db = FreshDatabase("w2p_decode_stream");
  db->Exec("CREATE TABLE s_t (id integer PRIMARY KEY, pad text)");
  db->Exec("SELECT pg_create_logical_replication_slot('strm', 'wal2proto')");
  db->Exec("BEGIN");
  db->Exec(
      "INSERT INTO s_t SELECT g, repeat('p', 100) FROM generate_series(1, "
      "1000) g");
  db->Exec("SAVEPOINT a");
  db->Exec(
      "INSERT INTO s_t SELECT g, repeat('q', 100) FROM generate_series(5001, "
      "6000) g");
  std::string subxid = db->Scalar("SELECT pg_current_xact_id()::text");
  db->Exec("ROLLBACK TO SAVEPOINT a");
  db->Exec(
      "INSERT INTO s_t SELECT g, repeat('r', 100) FROM generate_series(1001, "
      "1500) g");
  std::string xid = db->Scalar("SELECT pg_current_xact_id()::text");
  db->Exec("COMMIT");
  REQUIRE(subxid == xid);  // pg_current_xact_id() names the top level

  // The session that decodes decides when to stream.
  db->Exec("SET logical_decoding_work_mem = '64kB'");
  std::vector<Write> writes =
      GetChanges(*db, "strm", {"proto-version", "1", "streaming", "on"});
  std::vector<pb::Message> msgs = Flatten(writes);

  // Replay as a consumer would: keep each (sub)transaction's inserts, drop
  // those of an aborted subtransaction, apply the rest at StreamCommit.
  std::map<uint32_t, std::vector<int64_t>> by_xid;
  std::vector<std::pair<uint32_t, int64_t>> order;
  std::vector<int64_t> applied;
  bool in_block = false, committed = false;
  int blocks = 0;
  for (const pb::Message& m : msgs) {
    INFO("message " << KindName(m));
    REQUIRE_FALSE(committed);
    REQUIRE_FALSE(m.has_begin());
    REQUIRE_FALSE(m.has_commit());
    if (m.has_stream_start()) {
      REQUIRE_FALSE(in_block);
      CHECK(m.stream_start().xid() == ParseU64(xid));
      CHECK(m.stream_start().first_segment() == (blocks == 0));
      in_block = true;
      blocks++;
    } else if (m.has_stream_stop()) {
      REQUIRE(in_block);
      in_block = false;
    } else if (m.has_relation()) {
      REQUIRE(in_block);
    } else if (m.has_insert()) {
      REQUIRE(in_block);
      REQUIRE(m.insert().xid() != 0);
      order.emplace_back(m.insert().xid(),
                         m.insert().new_tuple().values(0).int_value());
    } else if (m.has_stream_abort()) {
      REQUIRE_FALSE(in_block);
      CHECK(m.stream_abort().xid() == ParseU64(xid));
      REQUIRE(m.stream_abort().subxid() != m.stream_abort().xid());
      uint32_t sub = m.stream_abort().subxid();
      std::vector<std::pair<uint32_t, int64_t>> kept;
      for (const auto& e : order) {
        if (e.first != sub) kept.push_back(e);
      }
      order.swap(kept);
    } else if (m.has_stream_commit()) {
      REQUIRE_FALSE(in_block);
      CHECK(m.stream_commit().xid() == ParseU64(xid));
      CHECK(m.stream_commit().commit_lsn() < m.stream_commit().end_lsn());
      CHECK(writes.back().lsn == m.stream_commit().end_lsn());
      for (const auto& e : order) applied.push_back(e.second);
      committed = true;
    } else {
      FAIL("unexpected message " << m.ShortDebugString());
    }
  }
  REQUIRE(committed);
  CHECK(blocks >= 1);
  std::vector<int64_t> expected;
  for (int64_t id = 1; id <= 1500; id++) expected.push_back(id);
  // Report the first difference rather than two 1,500-element lists.
  size_t first_diff = 0;
  while (first_diff < applied.size() && first_diff < expected.size() &&
         applied[first_diff] == expected[first_diff]) {
    first_diff++;
  }
  INFO("applied " << applied.size() << " rows, expected " << expected.size()
                  << "; first difference at position " << first_diff
                  << (first_diff < applied.size()
                          ? " (applied id " +
                                std::to_string(applied[first_diff]) + ")"
                          : std::string()));
  REQUIRE(applied.size() == expected.size());
  REQUIRE(first_diff == expected.size());
}

}  // namespace
}  // namespace w2p_test

// ---- two-phase commit ---------------------------------------------------

namespace w2p_test {
namespace {

// The write holding the message for which pred is true.
template <typename Pred>
const Write& WriteWith(const std::vector<Write>& writes, Pred pred) {
  for (const Write& w : writes) {
    for (const auto& m : w.batch.messages()) {
      if (pred(m)) return w;
    }
  }
  FAIL("no write holds the message looked for");
  return writes.front();  // not reached
}

TEST_CASE("two-phase: prepare, commit prepared, rollback prepared",
          "[plugin][twophase]") {
  auto db = FreshDatabase("w2p_decode_2pc");
  db->Exec("CREATE TABLE p_t (id integer PRIMARY KEY, v text)");
  db->Exec(
      "SELECT pg_create_logical_replication_slot('tpc', 'wal2proto', false, "
      "true)");

  std::string xids[2];
  int64_t prepared_us[2];
  const char* gids[2] = {"w2p-gid-1", "w2p-gid-2"};
  for (int i = 0; i < 2; i++) {
    db->Exec("BEGIN");
    db->Exec("INSERT INTO p_t VALUES (" + std::to_string(i + 1) + ", 'v')");
    xids[i] = db->Scalar("SELECT pg_current_xact_id()::text");
    db->Exec(std::string("PREPARE TRANSACTION '") + gids[i] + "'");
    prepared_us[i] = ParseI64(db->Scalar(
        std::string(
            "SELECT (extract(epoch FROM prepared) * 1000000)::int8::text"
            " FROM pg_prepared_xacts WHERE gid = '") +
        gids[i] + "'"));
    db->Exec(std::string(i == 0 ? "COMMIT" : "ROLLBACK") + " PREPARED '" +
             gids[i] + "'");
  }
  int64_t commit_us = ParseI64(
      db->Scalar("SELECT (extract(epoch FROM pg_xact_commit_timestamp('" +
                 xids[0] + "'::xid)) * 1000000)::int8::text"));

  std::vector<Write> writes = GetChanges(*db, "tpc", {"proto-version", "1"});
  std::vector<pb::Message> msgs = Flatten(writes);
  std::vector<std::string> kinds;
  for (const auto& m : msgs) kinds.push_back(KindName(m));
  REQUIRE(kinds == std::vector<std::string>{
                       "begin_prepare", "relation", "insert", "prepare",
                       "commit_prepared", "begin_prepare", "insert", "prepare",
                       "rollback_prepared"});

  for (int i = 0; i < 2; i++) {
    INFO("transaction " << gids[i]);
    size_t at = i == 0 ? 0 : 5;
    const pb::BeginPrepare& bp = msgs[at].begin_prepare();
    const pb::Prepare& pr = msgs[at + (i == 0 ? 3 : 2)].prepare();
    CHECK(bp.xid() == ParseU64(xids[i]));
    CHECK(pr.xid() == bp.xid());
    CHECK(bp.gid() == gids[i]);
    CHECK(pr.gid() == gids[i]);
    CHECK(bp.prepare_lsn() == pr.prepare_lsn());
    CHECK(bp.end_lsn() == pr.end_lsn());
    CHECK(pr.prepare_lsn() < pr.end_lsn());
    CHECK(bp.prepare_time() == prepared_us[i]);
    CHECK(pr.prepare_time() == prepared_us[i]);
    const Write& pw = WriteWith(writes, [&](const pb::Message& m) {
      return m.has_prepare() && m.prepare().gid() == gids[i];
    });
    CHECK(pw.lsn == pr.end_lsn());
  }

  const pb::Prepare& pr1 = msgs[3].prepare();
  const pb::CommitPrepared& cp = msgs[4].commit_prepared();
  CHECK(cp.xid() == ParseU64(xids[0]));
  CHECK(cp.gid() == gids[0]);
  CHECK(cp.commit_lsn() >= pr1.end_lsn());
  CHECK(cp.commit_lsn() < cp.end_lsn());
  CHECK(cp.commit_time() == commit_us);
  CHECK(WriteWith(writes, [](const pb::Message& m) {
          return m.has_commit_prepared();
        }).lsn == cp.end_lsn());

  const pb::Prepare& pr2 = msgs[7].prepare();
  const pb::RollbackPrepared& rp = msgs[8].rollback_prepared();
  CHECK(rp.gid() == gids[1]);
  CHECK(rp.prepare_end_lsn() == pr2.end_lsn());
  CHECK(rp.rollback_end_lsn() > pr2.end_lsn());
  CHECK(rp.prepare_time() == prepared_us[1]);
  CHECK(rp.rollback_time() >= rp.prepare_time());
  CHECK(WriteWith(writes, [](const pb::Message& m) {
          return m.has_rollback_prepared();
        }).lsn == rp.rollback_end_lsn());

  const pb::Insert& ins1 = msgs[2].insert();
  const pb::Insert& ins2 = msgs[6].insert();
  CHECK(ins1.new_tuple().values(0).int_value() == 1);
  CHECK(ins2.new_tuple().values(0).int_value() == 2);
  CHECK(ins2.relation_id() == msgs[1].relation().relation_id());
}

}  // namespace
}  // namespace w2p_test

// ---- text output does not depend on session settings --------------------

namespace w2p_test {
namespace {

TEST_CASE("text output uses the documented settings, not the session's",
          "[plugin][types]") {
  auto db = FreshDatabase("w2p_decode_textout");
  db->Exec(
      "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');"
      "CREATE TYPE bag AS (f double precision, b bytea, d date, iv interval,"
      "                    ts timestamp);"
      "CREATE TABLE t_t (id integer PRIMARY KEY, c bag, r daterange,"
      "                  m mood[])");
  db->Exec("SELECT pg_create_logical_replication_slot('txt', 'wal2proto')");
  // Inserted (and decoded) with DateStyle 'SQL, DMY', IntervalStyle
  // sql_standard, bytea_output escape, extra_float_digits 0 (see Db).
  db->Exec(
      "INSERT INTO t_t VALUES (1,"
      " ROW(0.1::float8 + 0.2::float8, '\\x00ff'::bytea, date '2024-02-29',"
      "     interval 'P1DT2H', timestamp '2024-02-29 12:34:56.5'),"
      " daterange(date '2024-02-29', date '2024-03-01'),"
      " ARRAY['happy', 'sad']::mood[])");

  // The texts the proto promises: DateStyle ISO, IntervalStyle postgres,
  // extra_float_digits 3, bytea_output hex.  Hand-written, then checked
  // against PostgreSQL under those settings.
  const std::string kBag =
      R"((0.30000000000000004,"\\x00ff",2024-02-29,"1 day 02:00:00","2024-02-29 12:34:56.5"))";
  const std::string kRange = "[2024-02-29,2024-03-01)";
  {
    Db iso("w2p_decode_textout");
    iso.Exec(
        "SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres';"
        "SET extra_float_digits = 3; SET bytea_output = 'hex'");
    REQUIRE(iso.Scalar("SELECT c::text FROM t_t") == kBag);
    REQUIRE(iso.Scalar("SELECT r::text FROM t_t") == kRange);
  }

  std::vector<Write> writes = GetChanges(*db, "txt", {"proto-version", "1"});
  std::vector<pb::Message> msgs = Flatten(writes);
  REQUIRE(msgs.size() == 4);
  REQUIRE(msgs[2].has_insert());
  const pb::Relation& rel = msgs[1].relation();
  uint32_t mood_oid = static_cast<uint32_t>(
      ParseU64(db->Scalar("SELECT 'mood'::regtype::oid::text")));
  CHECK(rel.columns(3).type_name() == "public.mood[]");
  RequireSameTuple(
      {Int(1), TextOutput(kBag), TextOutput(kRange),
       Array(mood_oid, {2}, {1}, {TextOutput("happy"), TextOutput("sad")})},
      msgs[2].insert().new_tuple(), rel, "insert");
}

}  // namespace
}  // namespace w2p_test
