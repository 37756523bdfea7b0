// copy_data_test.cc
//    Unit tests of the COPY data formats: exact bytes of binary fields (as
//    the types' recv functions read them) and of text fields.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/copy_data.h"

#include <catch2/catch.hpp>

namespace walapply::sink::postgres {

namespace {

namespace pb = wal2proto::v1;

// Bytes written out as hex, for readable comparisons.
std::string Hex(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (unsigned char c : bytes) {
    s.push_back(kDigits[c >> 4]);
    s.push_back(kDigits[c & 15]);
  }
  return s;
}

std::string Numeric(const std::string& text) {
  std::string out;
  REQUIRE(AppendBinaryNumeric(text, &out));
  return Hex(out);
}

std::string Field(uint32_t type_oid, const pb::Value& v) {
  std::string out;
  REQUIRE(AppendBinaryField(type_oid, v, &out));
  return Hex(out);
}

}  // namespace

TEST_CASE("numeric in base-10000 digits", "[sink][postgres][copy]") {
  // ndigits, weight, sign, dscale, digits.
  CHECK(Numeric("0") == "0000000000000000");
  CHECK(Numeric("0.0000") == "0000000000000004");
  CHECK(Numeric("-0") == "0000000000000000");  // no negative zero
  CHECK(Numeric("-12.3400") == "0002000040000004" "000c0d48");
  CHECK(Numeric("10000") == "0001000100000000" "0001");
  CHECK(Numeric("0.0001") == "0001ffff000000040001");
  CHECK(Numeric("123456789.5") == "0004000200000001" "000109291a851388");
  CHECK(Numeric("NaN") == "00000000c0000000");
  CHECK(Numeric("Infinity") == "00000000d0000000");
  CHECK(Numeric("-Infinity") == "00000000f0000000");
  std::string out;
  CHECK_FALSE(AppendBinaryNumeric("1e5", &out));
  CHECK_FALSE(AppendBinaryNumeric("", &out));
  CHECK_FALSE(AppendBinaryNumeric("-", &out));
  CHECK(out.empty());
}

TEST_CASE("binary fields of every type with a binary form",
          "[sink][postgres][copy]") {
  pb::Value v;
  v.set_int_value(-2);
  CHECK(Field(21, v) == "00000002" "fffe");
  CHECK(Field(23, v) == "00000004" "fffffffe");
  CHECK(Field(20, v) == "00000008" "fffffffffffffffe");
  v.set_bool_value(true);
  CHECK(Field(16, v) == "00000001" "01");
  v.set_float8_value(1.5);
  CHECK(Field(701, v) == "00000008" "3ff8000000000000");
  v.set_float4_value(-2.0f);
  CHECK(Field(700, v) == "00000004" "c0000000");
  v.set_text_value("ab");
  CHECK(Field(25, v) == "00000002" "6162");
  v.set_json_value("{}");
  CHECK(Field(114, v) == "00000002" "7b7d");
  CHECK(Field(3802, v) == "00000003" "017b7d");  // jsonb: version 1
  // 1970-01-02 is day -10956 from 2000-01-01.
  v.set_date_value(1);
  CHECK(Field(1082, v) == "00000004" "ffffd534");
  v.set_infinity(pb::INFINITY_POSITIVE);
  CHECK(Field(1082, v) == "00000004" "7fffffff");
  CHECK(Field(1184, v) == "00000008" "7fffffffffffffff");
  v.set_infinity(pb::INFINITY_NEGATIVE);
  CHECK(Field(1114, v) == "00000008" "8000000000000000");
  // 2000-01-01 00:00:00.000001 UTC.
  v.set_timestamptz_value(946684800000001);
  CHECK(Field(1184, v) == "00000008" "0000000000000001");
  v.mutable_timetz_value()->set_time(1);
  v.mutable_timetz_value()->set_utc_offset(19800);  // +05:30, kept as west
  CHECK(Field(1266, v) == "0000000c" "0000000000000001" "ffffb2a8");
  v.mutable_interval_value()->set_months(1);
  v.mutable_interval_value()->set_days(2);
  v.mutable_interval_value()->set_microseconds(3);
  CHECK(Field(1186, v) == "00000010" "0000000000000003" "00000002" "00000001");
  v.set_uuid_value(std::string(16, '\x11'));
  CHECK(Field(2950, v) == "00000010" + std::string(32, '1'));
  v.set_marker(pb::MARKER_NULL);
  CHECK(Field(25, v) == "ffffffff");
}

TEST_CASE("values without a binary form here are refused",
          "[sink][postgres][copy]") {
  std::string out;
  pb::Value v;
  v.set_text_output("294276-12-31 23:59:59");  // a timestamp past 294247 AD
  CHECK_FALSE(AppendBinaryField(1114, v, &out));
  v.set_marker(pb::MARKER_UNCHANGED_TOAST);
  CHECK_FALSE(AppendBinaryField(25, v, &out));
  v.set_int_value(1);
  CHECK_FALSE(AppendBinaryField(25, v, &out));  // the wrong member
  CHECK(out.empty());
  CHECK_FALSE(HasBinaryForm(1007));  // int4[]
  CHECK_FALSE(HasBinaryForm(18));    // "char"
  CHECK(HasBinaryForm(1700));
}

TEST_CASE("text fields and array elements are escaped",
          "[sink][postgres][copy]") {
  pb::Value v;
  v.set_text_value("a\\b\tc\nd\re\"f");
  std::string out;
  AppendTextField(v, &out);
  CHECK(out == "a\\\\b\\tc\\nd\\re\"f");
  out.clear();
  AppendArrayElement(v, &out);
  CHECK(out == "\"a\\\\b\tc\nd\re\\\"f\"");
  v.set_marker(pb::MARKER_NULL);
  out.clear();
  AppendTextField(v, &out);
  AppendArrayElement(v, &out);
  CHECK(out == "\\NNULL");
}

}  // namespace walapply::sink::postgres
