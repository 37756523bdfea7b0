// sql_format_test.cc
//    Unit tests of SQL quoting and value text: hostile identifiers and values.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "decode/decoder.h"
#include "sink/file/format.h"
#include "sink/file/value_text.h"
#include "tests/batch_builder.h"

namespace t = walapply::testing;
namespace f = walapply::sink::file;
using walapply::model::Change;
using walapply::model::Lsn;

namespace {

std::string Text(const t::pb::Value& v) {
  std::string s;
  f::AppendValueText(v, &s);
  return s;
}

std::string Lit(const std::string& s) {
  std::string out;
  f::AppendQuotedLiteral(s, &out);
  return out;
}

std::string Ident(const std::string& s) {
  std::string out;
  f::AppendQuotedIdentifier(s, &out);
  return out;
}

// Decodes one change from built messages.
std::string SqlOf(const std::vector<t::pb::Message>& msgs) {
  walapply::decode::Decoder d;
  std::vector<walapply::decode::Event> ev;
  REQUIRE(d.Decode(t::Serialize(msgs), Lsn(1), &ev).ok());
  auto fmt = f::MakeSqlFormat();
  std::string out;
  for (auto& e : ev) {
    if (auto* c = std::get_if<Change>(&e)) fmt->AppendChange(*c, &out);
  }
  return out;
}

}  // namespace

TEST_CASE("identifiers are always double-quoted with quotes doubled",
          "[sink]") {
  CHECK(Ident("t") == "\"t\"");
  CHECK(Ident("Mixed Case") == "\"Mixed Case\"");
  CHECK(Ident("a\"b") == "\"a\"\"b\"");
  CHECK(Ident("\"; DROP TABLE x; --") == "\"\"\"; DROP TABLE x; --\"");
  CHECK(Ident("select") == "\"select\"");
  CHECK(Ident("naïve ☃") == "\"naïve ☃\"");
}

TEST_CASE("literals are safe under any standard_conforming_strings", "[sink]") {
  CHECK(Lit("plain") == "'plain'");
  CHECK(Lit("it's") == "'it''s'");
  CHECK(Lit("'); DROP TABLE t; --") == "'''); DROP TABLE t; --'");
  CHECK(Lit("back\\slash") == "E'back\\\\slash'");
  CHECK(Lit("line\nbreak") == "E'line\\nbreak'");
  CHECK(Lit("tab\there\r") == "E'tab\\there\\r'");
  CHECK(Lit(std::string("bell\x07")) == "E'bell\\x07'");
  CHECK(Lit("\\'") == "E'\\\\'''");
  CHECK(Lit("ünïcödé ✓ 𝄞") == "'ünïcödé ✓ 𝄞'");
  CHECK(Lit("") == "''");
  // No literal ever holds a raw newline: one statement per line.
  CHECK(Lit("a\nb\r\nc").find('\n') == std::string::npos);
}

TEST_CASE("value text is PostgreSQL input syntax", "[sink]") {
  t::pb::Value v;
  v.set_float8_value(std::nan(""));
  CHECK(Text(v) == "NaN");
  v.set_float8_value(std::numeric_limits<double>::infinity());
  CHECK(Text(v) == "Infinity");
  v.set_float8_value(-std::numeric_limits<double>::infinity());
  CHECK(Text(v) == "-Infinity");
  v.set_float8_value(0.1);
  CHECK(Text(v) == "0.1");
  v.set_float8_value(1e300);
  CHECK(Text(v) == "1e+300");
  v.set_float4_value(0.1f);
  CHECK(Text(v) == "0.1");
  v.set_bytea_value(std::string("\x00\x01\xff", 3));
  CHECK(Text(v) == "\\x0001ff");
  v.set_date_value(0);
  CHECK(Text(v) == "1970-01-01");
  v.set_date_value(-719528);  // 0000-01-01 = 1 BC
  CHECK(Text(v) == "0001-01-01 BC");
  v.set_date_value(-1);
  CHECK(Text(v) == "1969-12-31");
  v.set_timestamp_value(-1);
  CHECK(Text(v) == "1969-12-31 23:59:59.999999");
  v.set_timestamptz_value(1700000000123456);
  CHECK(Text(v) == "2023-11-14 22:13:20.123456+00");
  v.set_infinity(t::pb::INFINITY_NEGATIVE);
  CHECK(Text(v) == "-infinity");
  v.set_time_value(86400000000LL);
  CHECK(Text(v) == "24:00:00.000000");
  v.mutable_timetz_value()->set_time(3600000000LL);
  v.mutable_timetz_value()->set_utc_offset(19800);
  CHECK(Text(v) == "01:00:00.000000+05:30:00");
  v.mutable_interval_value()->set_months(-14);
  v.mutable_interval_value()->set_days(3);
  v.mutable_interval_value()->set_microseconds(-3723000004LL);
  CHECK(Text(v) == "-14 mons 3 days -01:02:03.000004");
  v.set_uuid_value(std::string(
      "\x12\x34\x56\x78\x9a\xbc\xde\xf0\x12\x34\x56\x78\x9a\xbc\xde\xf0", 16));
  CHECK(Text(v) == "12345678-9abc-def0-1234-56789abcdef0");
}

TEST_CASE("arrays become array literals with every element quoted", "[sink]") {
  t::pb::Value v;
  auto* a = v.mutable_array_value();
  a->set_element_type_oid(25);
  a->add_dimensions(2);
  a->add_dimensions(2);
  a->add_lower_bounds(1);
  a->add_lower_bounds(1);
  *a->add_elements() = t::Text("a\"b");
  *a->add_elements() = t::Null();
  *a->add_elements() = t::Text("c\\d");
  *a->add_elements() = t::Text("NULL");
  CHECK(Text(v) == "{{\"a\\\"b\",NULL},{\"c\\\\d\",\"NULL\"}}");
  a->set_lower_bounds(0, 0);
  CHECK(Text(v).rfind("[0:1][1:2]={", 0) == 0);
  t::pb::Value empty;
  empty.mutable_array_value()->set_element_type_oid(23);
  CHECK(Text(empty) == "{}");
}

TEST_CASE("statements quote hostile table names and values", "[sink]") {
  auto rel =
      t::Relation(5, "we\"ird", "ta'ble; --", t::pb::REPLICA_IDENTITY_DEFAULT,
                  {{"i\"d", 23, "integer", true}, {"v", 25, "text", false}});
  std::string sql = SqlOf(
      {rel, t::Insert(5, {t::Int(-3), t::Text("x'); DROP TABLE t; --\n")})});
  CHECK(sql ==
        "INSERT INTO \"we\"\"ird\".\"ta'ble; --\" (\"i\"\"d\", \"v\") VALUES "
        "(-3, E'x''); DROP TABLE t; --\\n');\n");
}

TEST_CASE("updates and deletes find rows by replica identity", "[sink]") {
  std::vector<t::ColSpec> cols = {{"id", 23, "integer", true},
                                  {"v", 25, "text", false},
                                  {"big", 25, "text", false}};
  auto def =
      t::Relation(6, "public", "t", t::pb::REPLICA_IDENTITY_DEFAULT, cols);
  SECTION("key unchanged: new tuple's key, unchanged TOAST left alone") {
    CHECK(SqlOf({def, t::Update(6, nullptr,
                                {t::Int(1), t::Text("n"), t::Toast()})}) ==
          "UPDATE \"public\".\"t\" SET \"id\" = 1, \"v\" = 'n' WHERE \"id\" = "
          "1;\n");
  }
  SECTION("key changed: old key") {
    std::vector<t::pb::Value> old = {t::Int(1), t::NotSent(), t::NotSent()};
    CHECK(SqlOf({def,
                 t::Update(6, &old, {t::Int(2), t::Null(), t::Text("b")})}) ==
          "UPDATE \"public\".\"t\" SET \"id\" = 2, \"v\" = NULL, \"big\" = 'b' "
          "WHERE \"id\" = 1;\n");
    CHECK(SqlOf({def, t::Delete(6, old)}) ==
          "DELETE FROM \"public\".\"t\" WHERE \"id\" = 1;\n");
  }
  SECTION("FULL: one row by ctid, compared as text, NULLs with IS NULL") {
    std::vector<t::ColSpec> fcols = {{"p", 600, "point", true},
                                     {"v", 25, "text", true}};
    auto full =
        t::Relation(7, "public", "f", t::pb::REPLICA_IDENTITY_FULL, fcols);
    t::pb::Value pt;
    pt.set_text_output("(1,2)");
    std::vector<t::pb::Value> old = {pt, t::Null()};
    CHECK(SqlOf({full, t::Delete(7, old)}) ==
          "DELETE FROM \"public\".\"f\" WHERE ctid = (SELECT ctid FROM "
          "\"public\".\"f\" "
          "WHERE \"p\"::text = ('(1,2)'::point)::text AND \"v\" IS NULL LIMIT "
          "1);\n");
  }
  SECTION("no identity: a comment, counted") {
    std::vector<t::ColSpec> ncols = {{"a", 23, "integer", false}};
    auto none =
        t::Relation(8, "public", "n", t::pb::REPLICA_IDENTITY_NOTHING, ncols);
    std::string sql = SqlOf({none, t::Update(8, nullptr, {t::Int(1)})});
    CHECK(sql.rfind("-- wal2proto cannot replay: update of 'public'.'n'", 0) ==
          0);
  }
}

TEST_CASE("record ends parse back", "[sink]") {
  auto sql = f::MakeSqlFormat();
  walapply::model::TxnInfo info;
  info.xid = walapply::model::Xid(42);
  info.commit_lsn = Lsn(0x1234);
  info.end_lsn = Lsn(0x1260);
  for (auto* fmt : {sql.get()}) {
    std::string out;
    fmt->AppendCommit(info, &out);
    REQUIRE(out.back() == '\n');
    out.pop_back();
    REQUIRE(fmt->IsRecordEndPrefix(out));
    auto r = fmt->ParseRecordEnd(out);
    REQUIRE(r.has_value());
    CHECK(r->is_commit);
    CHECK(r->commit_lsn == Lsn(0x1234));
    CHECK(r->end_lsn == Lsn(0x1260));
  }
  auto jsonl = f::MakeJsonlFormat();
  std::string out;
  jsonl->AppendCommit(info, &out);
  CHECK(out ==
        "{\"kind\":\"commit\",\"xid\":42,\"commit_lsn\":\"0/"
        "1234\",\"end_lsn\":\"0/1260\"}\n");
  out.pop_back();
  auto r = jsonl->ParseRecordEnd(out);
  REQUIRE(r.has_value());
  CHECK(r->end_lsn == Lsn(0x1260));
}

TEST_CASE("JSON Lines values are typed and lossless", "[sink]") {
  walapply::decode::Decoder d;
  std::vector<walapply::decode::Event> ev;
  std::vector<t::ColSpec> cols = {
      {"i", 20, "bigint", true},     {"f", 701, "double precision", false},
      {"n", 1700, "numeric", false}, {"jb", 3802, "jsonb", false},
      {"js", 114, "json", false},    {"a", 1007, "integer[]", false},
      {"s", 25, "text", false},      {"z", 25, "text", false}};
  t::pb::Value f;
  f.set_float8_value(std::nan(""));
  t::pb::Value n;
  n.set_numeric_value("-12.3400");
  t::pb::Value jb;
  jb.set_json_value("{\"k\": [1, null]}");
  t::pb::Value js;
  js.set_json_value("{ \"a\" :\n1 }");
  t::pb::Value a;
  a.mutable_array_value()->set_element_type_oid(23);
  a.mutable_array_value()->add_dimensions(2);
  a.mutable_array_value()->add_lower_bounds(1);
  *a.mutable_array_value()->add_elements() = t::Int(1);
  *a.mutable_array_value()->add_elements() = t::Null();
  REQUIRE(
      d.Decode(t::Serialize(
                   {t::Relation(9, "public", "j",
                                t::pb::REPLICA_IDENTITY_DEFAULT, cols),
                    t::Insert(9, {t::Int(-9223372036854775807LL), f, n, jb, js,
                                  a, t::Text("q\"\\\n\x01"), t::Null()})}),
               Lsn(1), &ev)
          .ok());
  auto fmt = f::MakeJsonlFormat();
  std::string out;
  fmt->AppendChange(std::get<Change>(ev[0]), &out);
  // The first change of a relation in a file is preceded by its description.
  size_t nl = out.find('\n');
  REQUIRE(nl != std::string::npos);
  CHECK(out.substr(0, nl) ==
        "{\"kind\":\"relation\",\"schema\":\"public\",\"table\":\"j\","
        "\"replica_identity\":"
        "\"default\",\"columns\":[{\"name\":\"i\",\"type\":\"bigint\",\"type_"
        "oid\":20,"
        "\"key\":true},{\"name\":\"f\",\"type\":\"double "
        "precision\",\"type_oid\":701,"
        "\"key\":false},{\"name\":\"n\",\"type\":\"numeric\",\"type_oid\":1700,"
        "\"key\":false},"
        "{\"name\":\"jb\",\"type\":\"jsonb\",\"type_oid\":3802,\"key\":false},{"
        "\"name\":"
        "\"js\",\"type\":\"json\",\"type_oid\":114,\"key\":false},{\"name\":"
        "\"a\",\"type\":"
        "\"integer[]\",\"type_oid\":1007,\"key\":false},{\"name\":\"s\","
        "\"type\":\"text\","
        "\"type_oid\":25,\"key\":false},{\"name\":\"z\",\"type\":\"text\","
        "\"type_oid\":25,"
        "\"key\":false}]}");
  out = out.substr(nl + 1);
  std::string again;
  fmt->AppendChange(std::get<Change>(ev[0]), &again);
  CHECK(again == out);  // described once per file
  CHECK(out ==
        "{\"kind\":\"insert\",\"schema\":\"public\",\"table\":\"j\",\"new\":{"
        "\"i\":-9223372036854775807,\"f\":\"NaN\",\"n\":\"-12.3400\",\"jb\":{"
        "\"k\": [1, null]},"
        "\"js\":\"{ \\\"a\\\" :\\n1 "
        "}\",\"a\":[1,null],\"s\":\"q\\\"\\\\\\n\\u0001\",\"z\":null}}\n");
}
