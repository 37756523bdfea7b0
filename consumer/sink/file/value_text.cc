// value_text.cc
//    Values in PostgreSQL's text input syntax; SQL and JSON quoting.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/file/value_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace walapply::sink::file {

namespace pb = wal2proto::v1;

namespace {

constexpr int64_t kUsPerDay = 86400LL * 1000000LL;

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

// Proleptic Gregorian date of a day number (days since 1970-01-01).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

// Appends v as at least `width` decimal digits, zero-padded.
void AppendPadded(uint64_t v, int width, std::string* out) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n < width) buf[n++] = '0';
  while (n > 0) out->push_back(buf[--n]);
}

// Appends "YYYY-MM-DD"; returns true when the year is BC (the caller puts
// " BC" at the end of the whole value).
bool AppendYmd(int64_t days, std::string* out) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  bool bc = y <= 0;
  if (bc) y = 1 - y;  // there is no year 0: 1 BC is astronomical year 0
  AppendPadded(static_cast<uint64_t>(y), 4, out);
  out->push_back('-');
  AppendPadded(m, 2, out);
  out->push_back('-');
  AppendPadded(d, 2, out);
  return bc;
}

void AppendTimeOfDay(int64_t us, std::string* out) {
  uint64_t u = us < 0 ? 0 : static_cast<uint64_t>(us);
  uint64_t secs = u / 1000000;
  AppendPadded(secs / 3600, 2, out);
  out->push_back(':');
  AppendPadded(secs / 60 % 60, 2, out);
  out->push_back(':');
  AppendPadded(secs % 60, 2, out);
  out->push_back('.');
  AppendPadded(u % 1000000, 6, out);
}

void AppendArrayText(const pb::Array& a, std::string* out);

void AppendArrayElement(const pb::Value& v, std::string* out) {
  if (v.kind_case() == pb::Value::kMarker) {
    out->append("NULL");
    return;
  }
  std::string text;
  AppendValueText(v, &text);
  out->push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') out->push_back('\\');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendArrayLevel(const pb::Array& a, int dim, int* next,
                      std::string* out) {
  out->push_back('{');
  for (int i = 0; i < a.dimensions(dim); i++) {
    if (i) out->push_back(',');
    if (dim + 1 < a.dimensions_size()) {
      AppendArrayLevel(a, dim + 1, next, out);
    } else {
      AppendArrayElement(a.elements((*next)++), out);
    }
  }
  out->push_back('}');
}

void AppendArrayText(const pb::Array& a, std::string* out) {
  if (a.dimensions_size() == 0 || a.elements_size() == 0) {
    out->append("{}");
    return;
  }
  bool default_bounds = true;
  for (int lb : a.lower_bounds()) default_bounds &= (lb == 1);
  if (!default_bounds) {
    for (int i = 0; i < a.dimensions_size(); i++) {
      int lb = i < a.lower_bounds_size() ? a.lower_bounds(i) : 1;
      out->append(
          "[" + std::to_string(lb) + ":" +
          std::to_string(static_cast<int64_t>(lb) + a.dimensions(i) - 1) + "]");
    }
    out->push_back('=');
  }
  int next = 0;
  AppendArrayLevel(a, 0, &next, out);
}

const char kHex[] = "0123456789abcdef";

}  // namespace

void AppendDate(int32_t days, std::string* out) {
  if (AppendYmd(days, out)) out->append(" BC");
}

void AppendTimestamp(int64_t us, bool with_zone, std::string* out) {
  int64_t days = FloorDiv(us, kUsPerDay);
  int64_t tod = us - days * kUsPerDay;
  bool bc = AppendYmd(days, out);
  out->push_back(' ');
  AppendTimeOfDay(tod, out);
  if (with_zone) out->append("+00");
  if (bc) out->append(" BC");
}

void AppendDouble(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "Infinity" : "-Infinity");
  } else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr);
  }
}

void AppendFloat(float v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "Infinity" : "-Infinity");
  } else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr);
  }
}

void AppendValueText(const model::Value& v, std::string* out) {
  switch (v.kind_case()) {
    case pb::Value::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      return;
    case pb::Value::kIntValue:
      out->append(std::to_string(v.int_value()));
      return;
    case pb::Value::kFloat4Value:
      AppendFloat(v.float4_value(), out);
      return;
    case pb::Value::kFloat8Value:
      AppendDouble(v.float8_value(), out);
      return;
    case pb::Value::kNumericValue:
      out->append(v.numeric_value());
      return;
    case pb::Value::kTextValue:
      out->append(v.text_value());
      return;
    case pb::Value::kByteaValue:
      out->append("\\x");
      for (unsigned char c : v.bytea_value()) {
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
      }
      return;
    case pb::Value::kDateValue:
      AppendDate(v.date_value(), out);
      return;
    case pb::Value::kTimeValue:
      AppendTimeOfDay(v.time_value(), out);
      return;
    case pb::Value::kTimetzValue: {
      AppendTimeOfDay(v.timetz_value().time(), out);
      int32_t off = v.timetz_value().utc_offset();
      char buf[24];
      int32_t a = off < 0 ? -off : off;
      std::snprintf(buf, sizeof(buf), "%c%02d:%02d:%02d", off < 0 ? '-' : '+',
                    a / 3600, a / 60 % 60, a % 60);
      out->append(buf);
      return;
    }
    case pb::Value::kTimestampValue:
      AppendTimestamp(v.timestamp_value(), false, out);
      return;
    case pb::Value::kTimestamptzValue:
      AppendTimestamp(v.timestamptz_value(), true, out);
      return;
    case pb::Value::kIntervalValue: {
      const pb::Interval& iv = v.interval_value();
      int64_t us = iv.microseconds();
      // Negate in unsigned arithmetic: INT64_MIN has no positive twin.
      uint64_t a = us < 0 ? 0 - static_cast<uint64_t>(us) : us;
      char buf[96];
      std::snprintf(buf, sizeof(buf),
                    "%d mons %d days %s%02llu:%02llu:%02llu.%06llu",
                    iv.months(), iv.days(), us < 0 ? "-" : "",
                    static_cast<unsigned long long>(a / 3600000000ULL),
                    static_cast<unsigned long long>(a / 60000000ULL % 60),
                    static_cast<unsigned long long>(a / 1000000ULL % 60),
                    static_cast<unsigned long long>(a % 1000000ULL));
      out->append(buf);
      return;
    }
    case pb::Value::kUuidValue: {
      const std::string& u = v.uuid_value();
      for (size_t i = 0; i < u.size(); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out->push_back('-');
        unsigned char c = u[i];
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
      }
      return;
    }
    case pb::Value::kJsonValue:
      out->append(v.json_value());
      return;
    case pb::Value::kArrayValue:
      AppendArrayText(v.array_value(), out);
      return;
    case pb::Value::kInfinity:
      out->append(v.infinity() == pb::INFINITY_NEGATIVE ? "-infinity"
                                                        : "infinity");
      return;
    case pb::Value::kTextOutput:
      out->append(v.text_output());
      return;
    case pb::Value::kMarker:
    case pb::Value::KIND_NOT_SET:
      return;
  }
}

void AppendQuotedIdentifier(const std::string& ident, std::string* out) {
  out->push_back('"');
  for (char c : ident) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendQuotedLiteral(const std::string& text, std::string* out) {
  bool plain = true;
  for (unsigned char c : text) {
    if (c == '\\' || c < 0x20 || c == 0x7f) {
      plain = false;
      break;
    }
  }
  if (plain) {
    out->push_back('\'');
    for (char c : text) {
      if (c == '\'') out->push_back('\'');
      out->push_back(c);
    }
    out->push_back('\'');
    return;
  }
  out->append("E'");
  for (unsigned char c : text) {
    switch (c) {
      case '\'':
        out->append("''");
        break;
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
        if (c < 0x20 || c == 0x7f) {
          out->append("\\x");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 15]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('\'');
}

void AppendJsonString(const std::string& text, std::string* out) {
  out->push_back('"');
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    // Copy the longest run that needs no escape in one go.
    const char* run = p;
    while (p < end) {
      unsigned char c = static_cast<unsigned char>(*p);
      if (c < 0x20 || c == '"' || c == '\\') break;
      p++;
    }
    out->append(run, p - run);
    if (p == end) break;
    unsigned char c = static_cast<unsigned char>(*p++);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
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
      default: {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out->append(buf);
      }
    }
  }
  out->push_back('"');
}

}  // namespace walapply::sink::file
