// document.cc
//    PostgreSQL rows as MongoDB documents.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/mongodb/document.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "sink/file/value_text.h"

namespace walapply::sink::mongodb {

namespace {

namespace pb = wal2proto::v1;

constexpr uint32_t kInt2Oid = 21;
constexpr uint32_t kInt4Oid = 23;
constexpr uint32_t kTimestampOid = 1114;
constexpr uint32_t kTimestampTzOid = 1184;
constexpr uint32_t kTimestampArrayOid = 1115;
constexpr uint32_t kTimestampTzArrayOid = 1185;
constexpr int64_t kUsPerDay = 86400LL * 1000000;

uint32_t EffectiveOid(const model::Column& c) {
  return c.base_type_oid != 0 ? c.base_type_oid : c.type_oid;
}

bool IsMarker(const model::Value& v, pb::Marker m) {
  return v.kind_case() == pb::Value::kMarker && v.marker() == m;
}

bool IsAbsent(const model::Value& v) {
  return v.kind_case() == pb::Value::kMarker &&
         (v.marker() == pb::MARKER_UNCHANGED_TOAST ||
          v.marker() == pb::MARKER_NOT_SENT);
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Decimal128 holds 34 significant digits and exponents -6176..6111.
bool FitsDecimal128(const std::string& text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  std::string digits;
  int64_t frac = 0;
  bool point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.') {
      if (point) return false;
      point = true;
    } else if (c >= '0' && c <= '9') {
      if (!(digits.empty() && c == '0')) digits.push_back(c);
      if (point) ++frac;
    } else {
      return false;  // exponents do not occur in numeric or jsonb text
    }
  }
  return digits.size() <= 34 && -frac >= -6176;
}

struct ArrayWalk {
  const pb::Array& array;
  const model::Column& element_column;
  std::vector<int32_t>* micros;
  int index = 0;
};

Status AppendScalar(bson_t* doc, const char* key, int key_len,
                    const model::Column& column, const model::Value& v,
                    std::vector<int32_t>* micros);

Status AppendArrayLevel(bson_t* doc, const char* key, int key_len,
                        ArrayWalk* walk, int dim) {
  bson_t child;
  bson_append_array_begin(doc, key, key_len, &child);
  int n = walk->array.dimensions(dim);
  for (int i = 0; i < n; ++i) {
    char kbuf[16];
    const char* k;
    size_t klen = bson_uint32_to_string(i, &k, kbuf, sizeof(kbuf));
    if (dim + 1 < walk->array.dimensions_size()) {
      WALAPPLY_RETURN_IF_ERROR(
          AppendArrayLevel(&child, k, static_cast<int>(klen), walk, dim + 1));
    } else {
      if (walk->index >= walk->array.elements_size()) {
        return Status::Fatal(
            "array has fewer elements than its dimensions say");
      }
      const model::Value& e = walk->array.elements(walk->index++);
      if (IsMarker(e, pb::MARKER_NULL)) {
        bson_append_null(&child, k, static_cast<int>(klen));
        if (walk->micros && HasMicros(walk->element_column))
          walk->micros->push_back(0);
      } else {
        WALAPPLY_RETURN_IF_ERROR(AppendScalar(&child, k, static_cast<int>(klen),
                                              walk->element_column, e,
                                              walk->micros));
      }
    }
  }
  bson_append_array_end(doc, &child);
  return Status::Ok();
}

void AppendDateMs(bson_t* doc, const char* key, int key_len, int64_t us,
                  std::vector<int32_t>* micros) {
  int64_t ms = FloorDiv(us, 1000);
  bson_append_date_time(doc, key, key_len, ms);
  if (micros) micros->push_back(static_cast<int32_t>(us - ms * 1000));
}

Status AppendScalar(bson_t* doc, const char* key, int key_len,
                    const model::Column& column, const model::Value& v,
                    std::vector<int32_t>* micros) {
  switch (v.kind_case()) {
    case pb::Value::kMarker:
      if (v.marker() == pb::MARKER_NULL) {
        bson_append_null(doc, key, key_len);
        return Status::Ok();
      }
      return Status::Fatal(
          fmt::format("column \"{}\" has no value", column.name));
    case pb::Value::kBoolValue:
      bson_append_bool(doc, key, key_len, v.bool_value());
      return Status::Ok();
    case pb::Value::kIntValue: {
      uint32_t oid = EffectiveOid(column);
      if ((oid == kInt2Oid || oid == kInt4Oid) &&
          v.int_value() >= std::numeric_limits<int32_t>::min() &&
          v.int_value() <= std::numeric_limits<int32_t>::max()) {
        bson_append_int32(doc, key, key_len,
                          static_cast<int32_t>(v.int_value()));
      } else {
        bson_append_int64(doc, key, key_len, v.int_value());
      }
      return Status::Ok();
    }
    case pb::Value::kFloat4Value:
      bson_append_double(doc, key, key_len,
                         static_cast<double>(v.float4_value()));
      return Status::Ok();
    case pb::Value::kFloat8Value:
      bson_append_double(doc, key, key_len, v.float8_value());
      return Status::Ok();
    case pb::Value::kNumericValue:
      AppendNumeric(doc, std::string_view(key, key_len), v.numeric_value());
      return Status::Ok();
    case pb::Value::kTextValue:
      bson_append_utf8(doc, key, key_len, v.text_value().data(),
                       static_cast<int>(v.text_value().size()));
      return Status::Ok();
    case pb::Value::kByteaValue:
      bson_append_binary(
          doc, key, key_len, BSON_SUBTYPE_BINARY,
          reinterpret_cast<const uint8_t*>(v.bytea_value().data()),
          static_cast<uint32_t>(v.bytea_value().size()));
      return Status::Ok();
    case pb::Value::kUuidValue:
      if (v.uuid_value().size() != 16) {
        return Status::Fatal(fmt::format("column \"{}\": uuid of {} bytes",
                                         column.name, v.uuid_value().size()));
      }
      bson_append_binary(
          doc, key, key_len, BSON_SUBTYPE_UUID,
          reinterpret_cast<const uint8_t*>(v.uuid_value().data()), 16);
      return Status::Ok();
    case pb::Value::kDateValue:
      bson_append_date_time(doc, key, key_len,
                            static_cast<int64_t>(v.date_value()) * 86400000LL);
      return Status::Ok();
    case pb::Value::kTimestampValue:
      AppendDateMs(doc, key, key_len, v.timestamp_value(), micros);
      return Status::Ok();
    case pb::Value::kTimestamptzValue:
      AppendDateMs(doc, key, key_len, v.timestamptz_value(), micros);
      return Status::Ok();
    case pb::Value::kInfinity:
      bson_append_date_time(doc, key, key_len,
                            v.infinity() == pb::INFINITY_NEGATIVE
                                ? std::numeric_limits<int64_t>::min()
                                : std::numeric_limits<int64_t>::max());
      if (micros && HasMicros(column)) micros->push_back(0);
      return Status::Ok();
    case pb::Value::kTimeValue: {
      std::string t = TimeText(v.time_value());
      bson_append_utf8(doc, key, key_len, t.data(), static_cast<int>(t.size()));
      return Status::Ok();
    }
    case pb::Value::kTimetzValue: {
      std::string t =
          TimeTzText(v.timetz_value().time(), v.timetz_value().utc_offset());
      bson_append_utf8(doc, key, key_len, t.data(), static_cast<int>(t.size()));
      return Status::Ok();
    }
    case pb::Value::kIntervalValue: {
      const auto& iv = v.interval_value();
      std::string t = IntervalText(iv.months(), iv.days(), iv.microseconds());
      bson_append_utf8(doc, key, key_len, t.data(), static_cast<int>(t.size()));
      return Status::Ok();
    }
    case pb::Value::kJsonValue: {
      std::string error;
      if (!AppendJson(doc, std::string_view(key, key_len), v.json_value(),
                      &error)) {
        return Status::Fatal(
            fmt::format("column \"{}\": invalid JSON: {}", column.name, error));
      }
      return Status::Ok();
    }
    case pb::Value::kArrayValue: {
      const pb::Array& a = v.array_value();
      bool default_bounds = true;
      for (int lb : a.lower_bounds()) default_bounds &= lb == 1;
      if (!default_bounds) {
        std::string t;
        file::AppendValueText(v, &t);
        bson_append_utf8(doc, key, key_len, t.data(),
                         static_cast<int>(t.size()));
        return Status::Ok();
      }
      model::Column element;
      element.name = column.name;
      element.type_oid = a.element_type_oid();
      ArrayWalk walk{a, element, micros};
      if (a.dimensions_size() == 0) {
        bson_t child;
        bson_append_array_begin(doc, key, key_len, &child);
        bson_append_array_end(doc, &child);
        return Status::Ok();
      }
      return AppendArrayLevel(doc, key, key_len, &walk, 0);
    }
    case pb::Value::kTextOutput:
      bson_append_utf8(doc, key, key_len, v.text_output().data(),
                       static_cast<int>(v.text_output().size()));
      if (micros && HasMicros(column)) micros->push_back(0);
      return Status::Ok();
    case pb::Value::KIND_NOT_SET:
      break;
  }
  return Status::Fatal(
      fmt::format("column \"{}\" has a value of no kind", column.name));
}

// Appends the sidecar (the `_us` subdocument) from per-column remainders.
void AppendSidecar(
    bson_t* doc, const std::string& field,
    const std::vector<std::pair<const model::Column*, std::vector<int32_t>>>&
        remainders) {
  bool any = false;
  for (const auto& [col, r] : remainders) {
    for (int32_t x : r) any |= x != 0;
  }
  if (!any) return;
  bson_t side;
  bson_append_document_begin(doc, field.data(), static_cast<int>(field.size()),
                             &side);
  for (const auto& [col, r] : remainders) {
    bool col_any = false;
    for (int32_t x : r) col_any |= x != 0;
    if (!col_any) continue;
    uint32_t oid = EffectiveOid(*col);
    bool is_array = oid != kTimestampOid && oid != kTimestampTzOid;
    if (!is_array && r.size() == 1) {
      bson_append_int32(&side, col->name.data(),
                        static_cast<int>(col->name.size()), r[0]);
    } else {
      bson_t arr;
      bson_append_array_begin(&side, col->name.data(),
                              static_cast<int>(col->name.size()), &arr);
      for (size_t i = 0; i < r.size(); ++i) {
        char kbuf[16];
        const char* k;
        size_t klen = bson_uint32_to_string(static_cast<uint32_t>(i), &k, kbuf,
                                            sizeof(kbuf));
        bson_append_int32(&arr, k, static_cast<int>(klen), r[i]);
      }
      bson_append_array_end(&side, &arr);
    }
  }
  bson_append_document_end(doc, &side);
}

Status CheckSidecarName(const model::Relation& rel,
                        const MappingOptions& options) {
  for (const auto& c : rel.columns) {
    if (c.name == options.micros_field || c.name == "_id") {
      return Status::Fatal(
          fmt::format("relation \"{}\".\"{}\": column \"{}\" collides with the "
                      "target's field of "
                      "that name; rename the column or set micros_field",
                      rel.schema, rel.name, c.name));
    }
  }
  return Status::Ok();
}

bool IsKeyColumn(const KeyInfo& key, size_t i) {
  for (size_t k : key.columns) {
    if (k == i) return true;
  }
  return false;
}

// --- JSON -----------------------------------------------------------------

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  bool ParseInto(bson_t* doc, std::string_view name, std::string* error) {
    SkipSpace();
    if (!Value(doc, name)) {
      *error = fmt::format("{} at offset {}", error_, pos_);
      return false;
    }
    SkipSpace();
    if (pos_ != s_.size()) {
      *error = fmt::format("trailing characters at offset {}", pos_);
      return false;
    }
    return true;
  }

 private:
  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' ||
                                s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool Fail(const char* what) {
    error_ = what;
    return false;
  }
  bool Value(bson_t* doc, std::string_view name) {
    if (++depth_ > 1000) return Fail("nesting too deep");
    bool ok = ValueInner(doc, name);
    --depth_;
    return ok;
  }
  bool ValueInner(bson_t* doc, std::string_view name) {
    const char* k = name.data();
    int kl = static_cast<int>(name.size());
    if (pos_ >= s_.size()) return Fail("unexpected end");
    char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      bson_t child;
      bson_append_document_begin(doc, k, kl, &child);
      bool ok = ObjectBody(&child);
      bson_append_document_end(doc, &child);  // closed even on failure
      return ok;
    }
    if (c == '[') {
      ++pos_;
      bson_t child;
      bson_append_array_begin(doc, k, kl, &child);
      bool ok = ArrayBody(&child);
      bson_append_array_end(doc, &child);
      return ok;
    }
    if (c == '"') {
      std::string v;
      if (!String(&v)) return false;
      bson_append_utf8(doc, k, kl, v.data(), static_cast<int>(v.size()));
      return true;
    }
    if (s_.compare(pos_, 4, "true") == 0) {
      pos_ += 4;
      bson_append_bool(doc, k, kl, true);
      return true;
    }
    if (s_.compare(pos_, 5, "false") == 0) {
      pos_ += 5;
      bson_append_bool(doc, k, kl, false);
      return true;
    }
    if (s_.compare(pos_, 4, "null") == 0) {
      pos_ += 4;
      bson_append_null(doc, k, kl);
      return true;
    }
    return Number(doc, name);
  }

  bool ObjectBody(bson_t* child) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipSpace();
      std::string key;
      if (pos_ >= s_.size() || s_[pos_] != '"') return Fail("expected a key");
      if (!String(&key)) return false;
      if (key.find('\0') != std::string::npos)
        return Fail("key with a zero byte");
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("expected ':'");
      ++pos_;
      SkipSpace();
      if (!Value(child, key)) return false;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }

  bool ArrayBody(bson_t* child) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      return true;
    }
    uint32_t i = 0;
    while (true) {
      SkipSpace();
      char kbuf[16];
      const char* ik;
      size_t iklen = bson_uint32_to_string(i++, &ik, kbuf, sizeof(kbuf));
      if (!Value(child, std::string_view(ik, iklen))) return false;
      SkipSpace();
      if (pos_ < s_.size() && s_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }

  bool Number(bson_t* doc, std::string_view name) {
    size_t start = pos_;
    if (pos_ < s_.size() && s_[pos_] == '-') ++pos_;
    size_t int_start = pos_;
    while (pos_ < s_.size() && isdigit(static_cast<unsigned char>(s_[pos_])))
      ++pos_;
    if (pos_ == int_start) return Fail("invalid value");
    bool integral = true;
    if (pos_ < s_.size() && s_[pos_] == '.') {
      integral = false;
      ++pos_;
      size_t f = pos_;
      while (pos_ < s_.size() && isdigit(static_cast<unsigned char>(s_[pos_])))
        ++pos_;
      if (pos_ == f) return Fail("invalid number");
    }
    bool exponent = false;
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      integral = false;
      exponent = true;
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      size_t e = pos_;
      while (pos_ < s_.size() && isdigit(static_cast<unsigned char>(s_[pos_])))
        ++pos_;
      if (pos_ == e) return Fail("invalid number");
    }
    std::string text(s_.substr(start, pos_ - start));
    const char* k = name.data();
    int kl = static_cast<int>(name.size());
    if (integral && text.size() <= 20) {
      errno = 0;
      char* end = nullptr;
      long long v = strtoll(text.c_str(), &end, 10);
      if (errno == 0 && *end == '\0' && !(v == 0 && text[0] == '-')) {
        if (v >= std::numeric_limits<int32_t>::min() &&
            v <= std::numeric_limits<int32_t>::max()) {
          bson_append_int32(doc, k, kl, static_cast<int32_t>(v));
        } else {
          bson_append_int64(doc, k, kl, v);
        }
        return true;
      }
    }
    if (exponent) {
      // json (not jsonb) keeps the text as written: exact as Decimal128 if
      // it can be, else the text.
      bson_decimal128_t d;
      if (bson_decimal128_from_string(text.c_str(), &d)) {
        bson_append_decimal128(doc, k, kl, &d);
      } else {
        bson_append_utf8(doc, k, kl, text.data(),
                         static_cast<int>(text.size()));
      }
      return true;
    }
    AppendNumeric(doc, name, text);
    return true;
  }

  static void AppendUtf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  bool Hex4(uint32_t* out) {
    if (pos_ + 4 > s_.size()) return Fail("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return Fail("bad \\u escape");
    }
    *out = v;
    return true;
  }

  bool String(std::string* out) {
    ++pos_;  // the opening quote
    while (true) {
      if (pos_ >= s_.size()) return Fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return true;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) return Fail("unterminated string");
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && pos_ + 6 <= s_.size() &&
              s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
            size_t save = pos_;
            pos_ += 2;
            uint32_t lo;
            if (!Hex4(&lo)) return false;
            if (lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              pos_ = save;
            }
          }
          if (cp == 0) return Fail("\\u0000 is not representable");
          AppendUtf8(cp, out);
          break;
        }
        default:
          return Fail("bad escape");
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  int depth_ = 0;
  const char* error_ = "";
};

void AppendTwo(int v, std::string* out) {
  out->push_back(static_cast<char>('0' + v / 10));
  out->push_back(static_cast<char>('0' + v % 10));
}

// "SS[.ffffff]" with trailing zeros of the fraction dropped, as PostgreSQL.
void AppendSecondsFraction(int64_t us_in_minute, std::string* out,
                           bool two_digits) {
  int64_t sec = us_in_minute / 1000000;
  int64_t frac = us_in_minute % 1000000;
  if (two_digits) {
    AppendTwo(static_cast<int>(sec), out);
  } else {
    out->append(std::to_string(sec));
  }
  if (frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%06lld", static_cast<long long>(frac));
    std::string f(buf);
    while (!f.empty() && f.back() == '0') f.pop_back();
    out->push_back('.');
    out->append(f);
  }
}

}  // namespace

bool HasMicros(const model::Column& column) {
  uint32_t oid = EffectiveOid(column);
  return oid == kTimestampOid || oid == kTimestampTzOid ||
         oid == kTimestampArrayOid || oid == kTimestampTzArrayOid;
}

bool HasUnchangedToast(const model::Tuple& tuple) {
  for (const auto& v : tuple.values()) {
    if (IsMarker(v, pb::MARKER_UNCHANGED_TOAST)) return true;
  }
  return false;
}

Result<KeyInfo> KeyColumns(const model::Relation& rel) {
  KeyInfo key;
  switch (rel.replica_identity) {
    case pb::REPLICA_IDENTITY_FULL:
      for (size_t i = 0; i < rel.columns.size(); ++i) {
        if (rel.columns[i].primary_key) key.columns.push_back(i);
      }
      return key;
    case pb::REPLICA_IDENTITY_DEFAULT:
    case pb::REPLICA_IDENTITY_INDEX:
      for (size_t i = 0; i < rel.columns.size(); ++i) {
        if (rel.columns[i].identity) key.columns.push_back(i);
      }
      if (!key.columns.empty()) return key;
      break;
    default:
      break;
  }
  return Status::Fatal(
      fmt::format("relation \"{}\".\"{}\" has no primary key or replica "
                  "identity index, so its "
                  "updates and deletes cannot be matched in MongoDB; add a "
                  "primary key or set "
                  "REPLICA IDENTITY FULL",
                  rel.schema, rel.name));
}

void AppendNumeric(bson_t* doc, std::string_view name,
                   const std::string& text) {
  const char* k = name.data();
  int kl = static_cast<int>(name.size());
  bson_decimal128_t d;
  if (text == "NaN" || text == "Infinity" || text == "-Infinity") {
    bson_decimal128_from_string(text.c_str(), &d);
    bson_append_decimal128(doc, k, kl, &d);
    return;
  }
  if (FitsDecimal128(text) && bson_decimal128_from_string(text.c_str(), &d)) {
    bson_append_decimal128(doc, k, kl, &d);
    return;
  }
  bson_append_utf8(doc, k, kl, text.data(), static_cast<int>(text.size()));
}

bool AppendJson(bson_t* doc, std::string_view name, std::string_view json,
                std::string* error) {
  JsonParser parser(json);
  return parser.ParseInto(doc, name, error);
}

std::string TimeText(int64_t us) {
  std::string out;
  int64_t h = us / 3600000000LL;
  int64_t m = us / 60000000LL % 60;
  AppendTwo(static_cast<int>(h), &out);
  out.push_back(':');
  AppendTwo(static_cast<int>(m), &out);
  out.push_back(':');
  AppendSecondsFraction(us % 60000000LL, &out, true);
  return out;
}

std::string TimeTzText(int64_t us, int32_t utc_offset_s) {
  // PostgreSQL stores the zone as seconds west; the wire has seconds east.
  std::string out = TimeText(us);
  int32_t a = utc_offset_s < 0 ? -utc_offset_s : utc_offset_s;
  out.push_back(utc_offset_s < 0 ? '-' : '+');
  AppendTwo(a / 3600, &out);
  if (a % 3600 != 0) {
    out.push_back(':');
    AppendTwo(a / 60 % 60, &out);
    if (a % 60 != 0) {
      out.push_back(':');
      AppendTwo(a % 60, &out);
    }
  }
  return out;
}

std::string IntervalText(int32_t months, int32_t days, int64_t us) {
  // As PostgreSQL's EncodeInterval with IntervalStyle iso_8601.
  int32_t years = months / 12;
  int32_t mons = months % 12;
  int64_t hours = us / 3600000000LL;
  int64_t rest = us % 3600000000LL;
  int64_t mins = rest / 60000000LL;
  int64_t sec_us = rest % 60000000LL;
  if (years == 0 && mons == 0 && days == 0 && us == 0) return "PT0S";
  std::string out = "P";
  if (years) out += std::to_string(years) + "Y";
  if (mons) out += std::to_string(mons) + "M";
  if (days) out += std::to_string(days) + "D";
  if (hours || mins || sec_us) out += "T";
  if (hours) out += std::to_string(hours) + "H";
  if (mins) out += std::to_string(mins) + "M";
  if (sec_us) {
    if (sec_us < 0) out.push_back('-');
    AppendSecondsFraction(sec_us < 0 ? -sec_us : sec_us, &out, false);
    out.push_back('S');
  }
  return out;
}

Status AppendValue(bson_t* doc, std::string_view name,
                   const model::Column& column, const model::Value& value,
                   std::vector<int32_t>* micros) {
  return AppendScalar(doc, name.data(), static_cast<int>(name.size()), column,
                      value, micros);
}

Status AppendId(bson_t* doc, const model::Relation& rel, const KeyInfo& key,
                const model::Tuple& tuple, const model::Tuple* fallback) {
  auto value_of = [&](size_t i) -> const model::Value* {
    if (static_cast<int>(i) < tuple.values_size() &&
        !IsAbsent(tuple.values(i))) {
      return &tuple.values(i);
    }
    if (fallback && static_cast<int>(i) < fallback->values_size() &&
        !IsAbsent(fallback->values(i))) {
      return &fallback->values(i);
    }
    return nullptr;
  };
  if (key.columns.size() == 1) {
    const model::Value* v = value_of(key.columns[0]);
    if (!v) {
      return Status::Fatal(fmt::format("key column \"{}\" has no value",
                                       rel.columns[key.columns[0]].name));
    }
    return AppendValue(doc, "_id", rel.columns[key.columns[0]], *v, nullptr);
  }
  bson_t id;
  bson_append_document_begin(doc, "_id", 3, &id);
  for (size_t i : key.columns) {
    const model::Value* v = value_of(i);
    if (!v) {
      return Status::Fatal(
          fmt::format("key column \"{}\" has no value", rel.columns[i].name));
    }
    WALAPPLY_RETURN_IF_ERROR(
        AppendValue(&id, rel.columns[i].name, rel.columns[i], *v, nullptr));
  }
  bson_append_document_end(doc, &id);
  return Status::Ok();
}

Status BuildDocument(const model::Relation& rel, const KeyInfo& key,
                     const model::Tuple& tuple, const MappingOptions& options,
                     const bson_t* id, const bson_t* toast_source,
                     bson_t* out) {
  WALAPPLY_RETURN_IF_ERROR(CheckSidecarName(rel, options));
  if (id) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, id, "_id")) {
      bson_append_iter(out, "_id", 3, &it);
    }
  }
  std::vector<std::pair<const model::Column*, std::vector<int32_t>>> remainders;
  for (size_t i = 0; i < rel.columns.size(); ++i) {
    const model::Column& c = rel.columns[i];
    if (!options.keep_key_columns && IsKeyColumn(key, i)) continue;
    if (static_cast<int>(i) >= tuple.values_size()) {
      return Status::Fatal(
          fmt::format("row has no value for column \"{}\"", c.name));
    }
    const model::Value& v = tuple.values(i);
    if (IsMarker(v, pb::MARKER_UNCHANGED_TOAST)) {
      bson_iter_t it;
      if (toast_source &&
          bson_iter_init_find(&it, toast_source, c.name.c_str())) {
        bson_append_iter(out, c.name.data(), static_cast<int>(c.name.size()),
                         &it);
        if (HasMicros(c)) {
          // Carry the sidecar entry along with the value.
          bson_iter_t side;
          std::string path = options.micros_field + "." + c.name;
          std::vector<int32_t> r;
          if (bson_iter_init(&side, toast_source) &&
              bson_iter_find_descendant(&side, path.c_str(), &side)) {
            if (BSON_ITER_HOLDS_INT32(&side)) {
              r.push_back(bson_iter_int32(&side));
            } else if (BSON_ITER_HOLDS_ARRAY(&side)) {
              bson_iter_t e;
              if (bson_iter_recurse(&side, &e)) {
                while (bson_iter_next(&e)) r.push_back(bson_iter_int32(&e));
              }
            }
          }
          remainders.emplace_back(&c, std::move(r));
        }
        continue;
      }
      if (toast_source)
        continue;  // absent there too (NULL under nulls: absent)
      return Status::Fatal(
          fmt::format("column \"{}\" is an unchanged TOAST value with no "
                      "document to take it from",
                      c.name));
    }
    if (IsMarker(v, pb::MARKER_NOT_SENT)) {
      return Status::Fatal(
          fmt::format("row has no value for column \"{}\"", c.name));
    }
    if (IsMarker(v, pb::MARKER_NULL)) {
      if (!options.null_absent) {
        bson_append_null(out, c.name.data(), static_cast<int>(c.name.size()));
      }
      continue;
    }
    std::vector<int32_t> r;
    WALAPPLY_RETURN_IF_ERROR(
        AppendValue(out, c.name, c, v, HasMicros(c) ? &r : nullptr));
    if (HasMicros(c)) remainders.emplace_back(&c, std::move(r));
  }
  AppendSidecar(out, options.micros_field, remainders);
  return Status::Ok();
}

Status BuildUpdate(const model::Relation& rel, const KeyInfo& key,
                   const model::Tuple& tuple, const MappingOptions& options,
                   bson_t* out) {
  WALAPPLY_RETURN_IF_ERROR(CheckSidecarName(rel, options));
  bson_t set, unset;
  bson_init(&set);
  bson_init(&unset);
  std::vector<std::pair<const model::Column*, std::vector<int32_t>>> remainders;
  bool all_micros_present = true;
  bool any_micros_column = false;
  for (const auto& c : rel.columns) any_micros_column |= HasMicros(c);
  Status st = Status::Ok();
  for (size_t i = 0; i < rel.columns.size() && st.ok(); ++i) {
    const model::Column& c = rel.columns[i];
    if (static_cast<int>(i) >= tuple.values_size()) {
      st = Status::Fatal(
          fmt::format("row has no value for column \"{}\"", c.name));
      break;
    }
    const model::Value& v = tuple.values(i);
    if (IsAbsent(v)) {
      if (HasMicros(c)) all_micros_present = false;
      continue;
    }
    if (!options.keep_key_columns && IsKeyColumn(key, i)) continue;
    if (IsMarker(v, pb::MARKER_NULL)) {
      if (options.null_absent) {
        bson_append_int32(&unset, c.name.data(),
                          static_cast<int>(c.name.size()), 1);
      } else {
        bson_append_null(&set, c.name.data(), static_cast<int>(c.name.size()));
      }
      if (HasMicros(c)) remainders.emplace_back(&c, std::vector<int32_t>{});
      continue;
    }
    std::vector<int32_t> r;
    st = AppendValue(&set, c.name, c, v, HasMicros(c) ? &r : nullptr);
    if (HasMicros(c)) remainders.emplace_back(&c, std::move(r));
  }
  if (st.ok()) {
    const std::string& side = options.micros_field;
    if (!any_micros_column) {
      // No sidecar to keep.
    } else if (all_micros_present) {
      // The whole sidecar is known: set it exactly, or remove it.
      bson_t tmp;
      bson_init(&tmp);
      AppendSidecar(&tmp, side, remainders);
      bson_iter_t it;
      if (bson_iter_init_find(&it, &tmp, side.c_str())) {
        bson_append_iter(&set, side.data(), static_cast<int>(side.size()), &it);
      } else {
        bson_append_int32(&unset, side.data(), static_cast<int>(side.size()),
                          1);
      }
      bson_destroy(&tmp);
    } else {
      for (const auto& [col, r] : remainders) {
        std::string path = side + "." + col->name;
        bool any = false;
        for (int32_t x : r) any |= x != 0;
        if (!any) {
          bson_append_int32(&unset, path.data(), static_cast<int>(path.size()),
                            1);
          continue;
        }
        bson_t tmp;
        bson_init(&tmp);
        std::vector<std::pair<const model::Column*, std::vector<int32_t>>> one{
            {col, r}};
        AppendSidecar(&tmp, side, one);
        bson_iter_t it;
        if (bson_iter_init(&it, &tmp) &&
            bson_iter_find_descendant(&it, path.c_str(), &it)) {
          bson_append_iter(&set, path.data(), static_cast<int>(path.size()),
                           &it);
        }
        bson_destroy(&tmp);
      }
    }
    if (!bson_empty(&set)) bson_append_document(out, "$set", 4, &set);
    if (!bson_empty(&unset)) bson_append_document(out, "$unset", 6, &unset);
  }
  bson_destroy(&set);
  bson_destroy(&unset);
  return st;
}

Status BuildRowFilter(const model::Relation& rel, const model::Tuple& old_row,
                      const MappingOptions& options, bson_t* out) {
  std::vector<std::pair<const model::Column*, std::vector<int32_t>>> remainders;
  for (size_t i = 0; i < rel.columns.size(); ++i) {
    const model::Column& c = rel.columns[i];
    if (static_cast<int>(i) >= old_row.values_size() ||
        IsAbsent(old_row.values(i))) {
      return Status::Fatal(
          fmt::format("the old row lacks column \"{}\"; keyless tables need "
                      "REPLICA IDENTITY FULL",
                      c.name));
    }
    const model::Value& v = old_row.values(i);
    if (IsMarker(v, pb::MARKER_NULL)) {
      // {col: null} matches null and a missing field alike.
      bson_append_null(out, c.name.data(), static_cast<int>(c.name.size()));
      continue;
    }
    std::vector<int32_t> r;
    WALAPPLY_RETURN_IF_ERROR(
        AppendValue(out, c.name, c, v, HasMicros(c) ? &r : nullptr));
    if (HasMicros(c)) remainders.emplace_back(&c, std::move(r));
  }
  bson_t tmp;
  bson_init(&tmp);
  AppendSidecar(&tmp, options.micros_field, remainders);
  bson_iter_t it;
  if (bson_iter_init_find(&it, &tmp, options.micros_field.c_str())) {
    bson_append_iter(out, options.micros_field.data(),
                     static_cast<int>(options.micros_field.size()), &it);
  } else {
    bson_append_null(out, options.micros_field.data(),
                     static_cast<int>(options.micros_field.size()));
  }
  bson_destroy(&tmp);
  return Status::Ok();
}

}  // namespace walapply::sink::mongodb
