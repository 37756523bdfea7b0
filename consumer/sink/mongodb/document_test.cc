// document_test.cc
//    Unit tests of the MongoDB type mapping, compared as canonical extended
//    JSON.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/mongodb/document.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "sink/mongodb/handles.h"

namespace m = walapply::sink::mongodb;
namespace pb = wal2proto::v1;
using walapply::model::Column;
using walapply::model::Relation;
using walapply::model::Tuple;
using walapply::model::Value;

namespace {

Column Col(const std::string& name, uint32_t oid, bool key = false) {
  Column c;
  c.name = name;
  c.type_oid = oid;
  c.identity = key;
  c.primary_key = key;
  return c;
}

// {"v": <value>} as canonical extended JSON.
std::string One(const Column& c, const Value& v) {
  m::Bson doc;
  std::vector<int32_t> micros;
  REQUIRE(m::AppendValue(doc.get(), "v", c, v, &micros).ok());
  return doc.CanonicalJson();
}

std::string Json(const std::string& text) {
  m::Bson doc;
  std::string error;
  REQUIRE(m::AppendJson(doc.get(), "v", text, &error));
  return doc.CanonicalJson();
}

Value Numeric(const std::string& s) {
  Value v;
  v.set_numeric_value(s);
  return v;
}

}  // namespace

TEST_CASE("integers keep their width", "[sink][mongodb]") {
  Value v;
  v.set_int_value(-7);
  CHECK(One(Col("a", 21), v) == R"({ "v" : { "$numberInt" : "-7" } })");
  CHECK(One(Col("a", 23), v) == R"({ "v" : { "$numberInt" : "-7" } })");
  CHECK(One(Col("a", 20), v) == R"({ "v" : { "$numberLong" : "-7" } })");
  v.set_int_value(4294967295LL);
  CHECK(One(Col("a", 26), v) ==
        R"({ "v" : { "$numberLong" : "4294967295" } })");
}

TEST_CASE("floats keep NaN and infinities", "[sink][mongodb]") {
  Value v;
  v.set_float8_value(std::numeric_limits<double>::quiet_NaN());
  CHECK(One(Col("a", 701), v) == R"({ "v" : { "$numberDouble" : "NaN" } })");
  v.set_float8_value(-std::numeric_limits<double>::infinity());
  CHECK(One(Col("a", 701), v) ==
        R"({ "v" : { "$numberDouble" : "-Infinity" } })");
  v.set_float4_value(0.1f);
  CHECK(One(Col("a", 700), v) ==
        R"({ "v" : { "$numberDouble" : "0.10000000149011611938" } })");
}

TEST_CASE("numeric becomes Decimal128 or, beyond it, its exact text",
          "[sink][mongodb]") {
  CHECK(One(Col("a", 1700), Numeric("-12.3400")) ==
        R"({ "v" : { "$numberDecimal" : "-12.3400" } })");
  CHECK(One(Col("a", 1700), Numeric("NaN")) ==
        R"({ "v" : { "$numberDecimal" : "NaN" } })");
  CHECK(One(Col("a", 1700), Numeric("-Infinity")) ==
        R"({ "v" : { "$numberDecimal" : "-Infinity" } })");
  std::string d34(34, '9');
  CHECK(One(Col("a", 1700), Numeric(d34)) ==
        R"({ "v" : { "$numberDecimal" : ")" + d34 + R"(" } })");
  std::string d35 = "1" + std::string(34, '0');
  CHECK(One(Col("a", 1700), Numeric(d35)) == R"({ "v" : ")" + d35 + R"(" })");
  std::string tiny = "0." + std::string(7000, '0') + "1";
  CHECK(One(Col("a", 1700), Numeric(tiny)) == R"({ "v" : ")" + tiny + R"(" })");
}

TEST_CASE("uuid is Binary subtype 4, bytea subtype 0", "[sink][mongodb]") {
  Value v;
  v.set_uuid_value(std::string(
      "\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\xcc\xdd\xee\xff", 16));
  CHECK(
      One(Col("a", 2950), v) ==
      R"({ "v" : { "$binary" : { "base64" : "ABEiM0RVZneImaq7zN3u/w==", "subType" : "04" } } })");
  v.set_bytea_value(std::string("\x00\xff", 2));
  CHECK(One(Col("a", 17), v) ==
        R"({ "v" : { "$binary" : { "base64" : "AP8=", "subType" : "00" } } })");
}

TEST_CASE("timestamps keep their microseconds in the sidecar",
          "[sink][mongodb]") {
  Relation rel;
  rel.schema = "s";
  rel.name = "t";
  rel.replica_identity = pb::REPLICA_IDENTITY_DEFAULT;
  rel.columns = {Col("id", 23, true), Col("ts", 1184), Col("d", 1082),
                 Col("t2", 1114)};
  Tuple t;
  t.add_values()->set_int_value(1);
  t.add_values()->set_timestamptz_value(-1);  // 1969-12-31 23:59:59.999999
  t.add_values()->set_date_value(-1);
  t.add_values()->set_timestamp_value(5000);
  auto key = m::KeyColumns(rel);
  REQUIRE(key.ok());
  m::Bson id, doc;
  REQUIRE(m::AppendId(id.get(), rel, *key, t, nullptr).ok());
  REQUIRE(m::BuildDocument(rel, *key, t, m::MappingOptions(), id.get(), nullptr,
                           doc.get())
              .ok());
  CHECK(doc.CanonicalJson() ==
        R"({ "_id" : { "$numberInt" : "1" }, "id" : { "$numberInt" : "1" }, )"
        R"("ts" : { "$date" : { "$numberLong" : "-1" } }, )"
        R"("d" : { "$date" : { "$numberLong" : "-86400000" } }, )"
        R"("t2" : { "$date" : { "$numberLong" : "5" } }, )"
        R"("_us" : { "ts" : { "$numberInt" : "999" } } })");

  // The update sets the whole sidecar, or removes it when it is empty.
  t.mutable_values(1)->set_timestamptz_value(2000);
  m::Bson upd;
  REQUIRE(m::BuildUpdate(rel, *key, t, m::MappingOptions(), upd.get()).ok());
  CHECK(
      upd.CanonicalJson() ==
      R"({ "$set" : { "id" : { "$numberInt" : "1" }, )"
      R"("ts" : { "$date" : { "$numberLong" : "2" } }, )"
      R"("d" : { "$date" : { "$numberLong" : "-86400000" } }, )"
      R"("t2" : { "$date" : { "$numberLong" : "5" } } }, "$unset" : { "_us" : { "$numberInt" : "1" } } })");
}

TEST_CASE("infinite timestamps are the Date extremes", "[sink][mongodb]") {
  Value v;
  v.set_infinity(pb::INFINITY_POSITIVE);
  CHECK(One(Col("a", 1114), v) ==
        R"({ "v" : { "$date" : { "$numberLong" : "9223372036854775807" } } })");
  v.set_infinity(pb::INFINITY_NEGATIVE);
  CHECK(
      One(Col("a", 1082), v) ==
      R"({ "v" : { "$date" : { "$numberLong" : "-9223372036854775808" } } })");
}

TEST_CASE("json becomes documents with exact numbers", "[sink][mongodb]") {
  CHECK(
      Json(
          R"({"a": [1, 2.50, "x\u00e9\ud83d\ude00"], "$b.c": null, "n": 12345678901})") ==
      R"({ "v" : { "a" : [ { "$numberInt" : "1" }, { "$numberDecimal" : "2.50" }, )"
      "\"x\xc3\xa9\xf0\x9f\x98\x80\" ], \"$b.c\" : null, "
      R"("n" : { "$numberLong" : "12345678901" } } })");
  CHECK(Json("true") == R"({ "v" : true })");
  CHECK(Json("-0") == R"({ "v" : { "$numberDecimal" : "-0" } })");
  CHECK(Json("1e400") == R"({ "v" : { "$numberDecimal" : "1E+400" } })");
  m::Bson doc;
  std::string error;
  CHECK_FALSE(m::AppendJson(doc.get(), "v", "{\"a\":}", &error));
  CHECK_FALSE(m::AppendJson(doc.get(), "v", "[1] x", &error));
}

TEST_CASE("time, timetz and interval as text", "[sink][mongodb]") {
  CHECK(m::TimeText(0) == "00:00:00");
  CHECK(m::TimeText(86399999999LL) == "23:59:59.999999");
  CHECK(m::TimeText(3723500000LL) == "01:02:03.5");
  CHECK(m::TimeTzText(0, 19800) == "00:00:00+05:30");
  CHECK(m::TimeTzText(0, -3600) == "00:00:00-01");
  CHECK(m::IntervalText(0, 0, 0) == "PT0S");
  CHECK(m::IntervalText(14, 3, 14706000000LL) == "P1Y2M3DT4H5M6S");
  CHECK(m::IntervalText(0, -1, -3723500000LL) == "P-1DT-1H-2M-3.5S");
}

TEST_CASE("composite keys are ordered subdocuments; keyless needs FULL",
          "[sink][mongodb]") {
  Relation rel;
  rel.schema = "s";
  rel.name = "t";
  rel.replica_identity = pb::REPLICA_IDENTITY_DEFAULT;
  rel.columns = {Col("b", 25, true), Col("x", 25), Col("a", 23, true)};
  Tuple t;
  t.add_values()->set_text_value("k");
  t.add_values()->set_marker(pb::MARKER_UNCHANGED_TOAST);
  t.add_values()->set_int_value(2);
  auto key = m::KeyColumns(rel);
  REQUIRE(key.ok());
  m::Bson id;
  REQUIRE(m::AppendId(id.get(), rel, *key, t, nullptr).ok());
  CHECK(id.CanonicalJson() ==
        R"({ "_id" : { "b" : "k", "a" : { "$numberInt" : "2" } } })");
  // Unchanged TOAST is left out of the update.
  m::MappingOptions opts;
  opts.keep_key_columns = false;
  m::Bson upd;
  REQUIRE(m::BuildUpdate(rel, *key, t, opts, upd.get()).ok());
  CHECK(upd.CanonicalJson() == "{ }");

  for (auto& c : rel.columns) c.identity = c.primary_key = false;
  CHECK_FALSE(m::KeyColumns(rel).ok());
  rel.replica_identity = pb::REPLICA_IDENTITY_FULL;
  auto full = m::KeyColumns(rel);
  REQUIRE(full.ok());
  CHECK(full->columns.empty());
}

TEST_CASE("key columns can leave the body; NULLs can be absent",
          "[sink][mongodb]") {
  Relation rel;
  rel.schema = "s";
  rel.name = "t";
  rel.replica_identity = pb::REPLICA_IDENTITY_DEFAULT;
  rel.columns = {Col("k", 20, true), Col("a", 25), Col("b", 25)};
  Tuple t;
  t.add_values()->set_int_value(9);
  t.add_values()->set_marker(pb::MARKER_NULL);
  t.add_values()->set_text_value("x");
  auto key = m::KeyColumns(rel);
  REQUIRE(key.ok());
  m::MappingOptions opts;
  opts.keep_key_columns = false;
  opts.null_absent = true;
  m::Bson id, doc, upd;
  REQUIRE(m::AppendId(id.get(), rel, *key, t, nullptr).ok());
  REQUIRE(
      m::BuildDocument(rel, *key, t, opts, id.get(), nullptr, doc.get()).ok());
  CHECK(doc.CanonicalJson() ==
        R"({ "_id" : { "$numberLong" : "9" }, "b" : "x" })");
  REQUIRE(m::BuildUpdate(rel, *key, t, opts, upd.get()).ok());
  CHECK(
      upd.CanonicalJson() ==
      R"({ "$set" : { "b" : "x" }, "$unset" : { "a" : { "$numberInt" : "1" } } })");
}

TEST_CASE("a keyless row is matched on every column", "[sink][mongodb]") {
  Relation rel;
  rel.schema = "s";
  rel.name = "t";
  rel.replica_identity = pb::REPLICA_IDENTITY_FULL;
  rel.columns = {Col("a", 23), Col("ts", 1184)};
  Tuple old;
  old.add_values()->set_marker(pb::MARKER_NULL);
  old.add_values()->set_timestamptz_value(1001);
  m::Bson filter;
  REQUIRE(m::BuildRowFilter(rel, old, m::MappingOptions(), filter.get()).ok());
  CHECK(filter.CanonicalJson() ==
        R"({ "a" : null, "ts" : { "$date" : { "$numberLong" : "1" } }, )"
        R"("_us" : { "ts" : { "$numberInt" : "1" } } })");
  old.mutable_values(1)->set_marker(pb::MARKER_NOT_SENT);
  m::Bson bad;
  CHECK_FALSE(m::BuildRowFilter(rel, old, m::MappingOptions(), bad.get()).ok());
}
