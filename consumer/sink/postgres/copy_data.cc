// copy_data.cc
//    Rows in the data formats of COPY FROM STDIN: binary and text.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/copy_data.h"

#include <cstring>
#include <limits>

#include "sink/file/value_text.h"

namespace walapply::sink::postgres {

namespace {

namespace pb = wal2proto::v1;

// Built-in type oids (pg_type.dat); they are the same in every cluster.
constexpr uint32_t kBoolOid = 16;
constexpr uint32_t kByteaOid = 17;
constexpr uint32_t kNameOid = 19;
constexpr uint32_t kInt8Oid = 20;
constexpr uint32_t kInt2Oid = 21;
constexpr uint32_t kInt4Oid = 23;
constexpr uint32_t kTextOid = 25;
constexpr uint32_t kOidOid = 26;
constexpr uint32_t kJsonOid = 114;
constexpr uint32_t kFloat4Oid = 700;
constexpr uint32_t kFloat8Oid = 701;
constexpr uint32_t kBpcharOid = 1042;
constexpr uint32_t kVarcharOid = 1043;
constexpr uint32_t kDateOid = 1082;
constexpr uint32_t kTimeOid = 1083;
constexpr uint32_t kTimestampOid = 1114;
constexpr uint32_t kTimestamptzOid = 1184;
constexpr uint32_t kIntervalOid = 1186;
constexpr uint32_t kTimetzOid = 1266;
constexpr uint32_t kNumericOid = 1700;
constexpr uint32_t kUuidOid = 2950;
constexpr uint32_t kJsonbOid = 3802;

// PostgreSQL counts dates and timestamps from 2000-01-01, the wire format
// from 1970-01-01.
constexpr int32_t kEpochDays = 10957;
constexpr int64_t kEpochMicros = int64_t{kEpochDays} * 86400 * 1000000;

// numeric's sign word.
constexpr uint16_t kNumericPos = 0x0000;
constexpr uint16_t kNumericNeg = 0x4000;
constexpr uint16_t kNumericNaN = 0xC000;
constexpr uint16_t kNumericPInf = 0xD000;
constexpr uint16_t kNumericNInf = 0xF000;

void Put16(uint16_t v, std::string* out) {
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

void Put32(uint32_t v, std::string* out) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>(v >> shift));
}

void Put64(uint64_t v, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>(v >> shift));
}

void PutLength(size_t n, std::string* out) {
  Put32(static_cast<uint32_t>(n), out);
}

void PutBytes(const std::string& bytes, std::string* out) {
  PutLength(bytes.size(), out);
  out->append(bytes);
}

bool IsMarker(const pb::Value& v) {
  return v.kind_case() == pb::Value::kMarker;
}

}  // namespace

bool HasBinaryForm(uint32_t type_oid) {
  switch (type_oid) {
    case kBoolOid:
    case kByteaOid:
    case kNameOid:
    case kInt8Oid:
    case kInt2Oid:
    case kInt4Oid:
    case kTextOid:
    case kOidOid:
    case kJsonOid:
    case kFloat4Oid:
    case kFloat8Oid:
    case kBpcharOid:
    case kVarcharOid:
    case kDateOid:
    case kTimeOid:
    case kTimestampOid:
    case kTimestamptzOid:
    case kIntervalOid:
    case kTimetzOid:
    case kNumericOid:
    case kUuidOid:
    case kJsonbOid:
      return true;
    default:
      return false;
  }
}

void AppendBinaryHeader(std::string* out) {
  static const char kSignature[] = "PGCOPY\n\377\r\n";
  out->append(kSignature, sizeof(kSignature));  // with its final '\0'
  Put32(0, out);                                // flags
  Put32(0, out);                                // header extension length
}

void AppendBinaryTrailer(std::string* out) { Put16(0xFFFF, out); }

void AppendBinaryFieldCount(int16_t count, std::string* out) {
  Put16(static_cast<uint16_t>(count), out);
}

bool AppendBinaryNumeric(const std::string& text, std::string* out) {
  uint16_t special = 0;
  if (text == "NaN")
    special = kNumericNaN;
  else if (text == "Infinity")
    special = kNumericPInf;
  else if (text == "-Infinity")
    special = kNumericNInf;
  if (special) {
    Put16(0, out);  // ndigits
    Put16(0, out);  // weight
    Put16(special, out);
    Put16(0, out);  // dscale
    return true;
  }
  const char* p = text.data();
  size_t n = text.size();
  bool negative = false;
  if (n > 0 && p[0] == '-') {
    negative = true;
    p++;
    n--;
  }
  const char* dot = static_cast<const char*>(std::memchr(p, '.', n));
  size_t int_len = dot ? static_cast<size_t>(dot - p) : n;
  size_t frac_len = dot ? n - int_len - 1 : 0;
  const char* frac = dot ? dot + 1 : p + n;
  if (int_len == 0 && frac_len == 0) return false;
  for (size_t i = 0; i < int_len; i++) {
    if (p[i] < '0' || p[i] > '9') return false;
  }
  for (size_t i = 0; i < frac_len; i++) {
    if (frac[i] < '0' || frac[i] > '9') return false;
  }
  if (frac_len > 0x3FFF) return false;  // beyond numeric's dscale
  // Base-10000 digits: the integer part grouped from the decimal point to
  // the left (zeros in front), the fraction from the point to the right
  // (zeros behind).
  size_t int_pad = (4 - int_len % 4) % 4;
  size_t int_groups = (int_len + int_pad) / 4;
  size_t groups = int_groups + (frac_len + 3) / 4;
  auto decimal = [&](size_t at) -> int {  // at: position in the padded digits
    if (at < int_len + int_pad)
      return at < int_pad ? 0 : p[at - int_pad] - '0';
    at -= int_len + int_pad;
    return at < frac_len ? frac[at] - '0' : 0;
  };
  auto digit = [&](size_t g) {
    size_t at = g * 4;
    return static_cast<uint16_t>(decimal(at) * 1000 + decimal(at + 1) * 100 +
                                 decimal(at + 2) * 10 + decimal(at + 3));
  };
  long weight = static_cast<long>(int_groups) - 1;
  size_t first = 0;
  while (first < groups && digit(first) == 0) {
    first++;
    weight--;
  }
  size_t last = groups;
  while (last > first && digit(last - 1) == 0) last--;
  if (first == last) {
    weight = 0;
    negative = false;  // numeric has no negative zero
  }
  if (weight < std::numeric_limits<int16_t>::min() ||
      weight > std::numeric_limits<int16_t>::max() || last - first > 0xFFFF) {
    return false;
  }
  Put16(static_cast<uint16_t>(last - first), out);
  Put16(static_cast<uint16_t>(static_cast<int16_t>(weight)), out);
  Put16(negative ? kNumericNeg : kNumericPos, out);
  Put16(static_cast<uint16_t>(frac_len), out);
  for (size_t g = first; g < last; g++) Put16(digit(g), out);
  return true;
}

bool AppendBinaryField(uint32_t type_oid, const model::Value& v,
                       std::string* out) {
  if (IsMarker(v)) {
    if (v.marker() != pb::MARKER_NULL) return false;
    Put32(0xFFFFFFFF, out);
    return true;
  }
  switch (type_oid) {
    case kBoolOid:
      if (v.kind_case() != pb::Value::kBoolValue) return false;
      PutLength(1, out);
      out->push_back(v.bool_value() ? 1 : 0);
      return true;
    case kInt2Oid:
      if (v.kind_case() != pb::Value::kIntValue) return false;
      PutLength(2, out);
      Put16(static_cast<uint16_t>(v.int_value()), out);
      return true;
    case kInt4Oid:
    case kOidOid:
      if (v.kind_case() != pb::Value::kIntValue) return false;
      PutLength(4, out);
      Put32(static_cast<uint32_t>(v.int_value()), out);
      return true;
    case kInt8Oid:
      if (v.kind_case() != pb::Value::kIntValue) return false;
      PutLength(8, out);
      Put64(static_cast<uint64_t>(v.int_value()), out);
      return true;
    case kFloat4Oid: {
      if (v.kind_case() != pb::Value::kFloat4Value) return false;
      float f = v.float4_value();
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      PutLength(4, out);
      Put32(bits, out);
      return true;
    }
    case kFloat8Oid: {
      if (v.kind_case() != pb::Value::kFloat8Value) return false;
      double d = v.float8_value();
      uint64_t bits;
      std::memcpy(&bits, &d, sizeof bits);
      PutLength(8, out);
      Put64(bits, out);
      return true;
    }
    case kNumericOid: {
      if (v.kind_case() != pb::Value::kNumericValue) return false;
      size_t at = out->size();
      PutLength(0, out);  // patched below
      if (!AppendBinaryNumeric(v.numeric_value(), out)) {
        out->resize(at);
        return false;
      }
      uint32_t n = static_cast<uint32_t>(out->size() - at - 4);
      for (int i = 0; i < 4; i++)
        (*out)[at + i] = static_cast<char>(n >> (24 - 8 * i));
      return true;
    }
    case kTextOid:
    case kVarcharOid:
    case kBpcharOid:
    case kNameOid:
      if (v.kind_case() != pb::Value::kTextValue) return false;
      PutBytes(v.text_value(), out);
      return true;
    case kByteaOid:
      if (v.kind_case() != pb::Value::kByteaValue) return false;
      PutBytes(v.bytea_value(), out);
      return true;
    case kJsonOid:
      if (v.kind_case() != pb::Value::kJsonValue) return false;
      PutBytes(v.json_value(), out);
      return true;
    case kJsonbOid:
      if (v.kind_case() != pb::Value::kJsonValue) return false;
      PutLength(v.json_value().size() + 1, out);
      out->push_back(1);  // jsonb's binary format version
      out->append(v.json_value());
      return true;
    case kUuidOid:
      if (v.kind_case() != pb::Value::kUuidValue || v.uuid_value().size() != 16)
        return false;
      PutBytes(v.uuid_value(), out);
      return true;
    case kDateOid: {
      int32_t days;
      if (v.kind_case() == pb::Value::kDateValue) {
        if (v.date_value() < std::numeric_limits<int32_t>::min() + kEpochDays)
          return false;
        days = v.date_value() - kEpochDays;
      } else if (v.kind_case() == pb::Value::kInfinity) {
        days = v.infinity() == pb::INFINITY_POSITIVE
                   ? std::numeric_limits<int32_t>::max()
                   : std::numeric_limits<int32_t>::min();
      } else {
        return false;
      }
      PutLength(4, out);
      Put32(static_cast<uint32_t>(days), out);
      return true;
    }
    case kTimestampOid:
    case kTimestamptzOid: {
      int64_t us;
      if (v.kind_case() == pb::Value::kTimestampValue ||
          v.kind_case() == pb::Value::kTimestamptzValue) {
        us = v.kind_case() == pb::Value::kTimestampValue
                 ? v.timestamp_value()
                 : v.timestamptz_value();
        if (us < std::numeric_limits<int64_t>::min() + kEpochMicros)
          return false;
        us -= kEpochMicros;
      } else if (v.kind_case() == pb::Value::kInfinity) {
        us = v.infinity() == pb::INFINITY_POSITIVE
                 ? std::numeric_limits<int64_t>::max()
                 : std::numeric_limits<int64_t>::min();
      } else {
        return false;
      }
      PutLength(8, out);
      Put64(static_cast<uint64_t>(us), out);
      return true;
    }
    case kTimeOid:
      if (v.kind_case() != pb::Value::kTimeValue) return false;
      PutLength(8, out);
      Put64(static_cast<uint64_t>(v.time_value()), out);
      return true;
    case kTimetzOid:
      if (v.kind_case() != pb::Value::kTimetzValue) return false;
      PutLength(12, out);
      Put64(static_cast<uint64_t>(v.timetz_value().time()), out);
      // PostgreSQL keeps the zone in seconds west of Greenwich.
      Put32(static_cast<uint32_t>(-v.timetz_value().utc_offset()), out);
      return true;
    case kIntervalOid:
      if (v.kind_case() != pb::Value::kIntervalValue) return false;
      PutLength(16, out);
      Put64(static_cast<uint64_t>(v.interval_value().microseconds()), out);
      Put32(static_cast<uint32_t>(v.interval_value().days()), out);
      Put32(static_cast<uint32_t>(v.interval_value().months()), out);
      return true;
    default:
      return false;
  }
}

bool AppendBinaryArray(uint32_t type_oid,
                       const std::vector<const model::Value*>& values,
                       std::string* out) {
  size_t at = out->size();
  bool has_null = false;
  for (const model::Value* v : values) {
    has_null |= IsMarker(*v) && v->marker() == pb::MARKER_NULL;
  }
  Put32(1, out);  // dimensions
  Put32(has_null ? 1 : 0, out);
  Put32(type_oid, out);
  Put32(static_cast<uint32_t>(values.size()), out);
  Put32(1, out);  // lower bound
  for (const model::Value* v : values) {
    if (!AppendBinaryField(type_oid, *v, out)) {
      out->resize(at);
      return false;
    }
  }
  return true;
}

void AppendTextField(const model::Value& v, std::string* out) {
  if (IsMarker(v)) {
    out->append("\\N");
    return;
  }
  std::string text;
  file::AppendValueText(v, &text);
  for (char c : text) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        out->push_back(c);
    }
  }
}

void AppendArrayElement(const model::Value& v, std::string* out) {
  if (IsMarker(v)) {
    out->append("NULL");
    return;
  }
  std::string text;
  file::AppendValueText(v, &text);
  out->push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendArrayLiteral(const std::vector<const model::Value*>& values,
                        std::string* out) {
  out->push_back('{');
  for (size_t i = 0; i < values.size(); i++) {
    if (i) out->push_back(',');
    AppendArrayElement(*values[i], out);
  }
  out->push_back('}');
}

}  // namespace walapply::sink::postgres
