// lsn.cc
//    Parsing and printing of WAL positions.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "model/lsn.h"

#include <cstdio>

namespace walapply::model {

namespace {

// Parses 1..8 hex digits; false on anything else.
bool ParseHalf(std::string_view text, uint32_t* out) {
  if (text.empty() || text.size() > 8) return false;
  uint32_t v = 0;
  for (char c : text) {
    uint32_t d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    v = (v << 4) | d;
  }
  *out = v;
  return true;
}

}  // namespace

std::optional<Lsn> Lsn::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  uint32_t hi, lo;
  if (!ParseHalf(text.substr(0, slash), &hi) ||
      !ParseHalf(text.substr(slash + 1), &lo)) {
    return std::nullopt;
  }
  return Lsn((static_cast<uint64_t>(hi) << 32) | lo);
}

std::string Lsn::ToString() const {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%X/%X", static_cast<uint32_t>(value_ >> 32),
                static_cast<uint32_t>(value_));
  return buf;
}

std::ostream& operator<<(std::ostream& os, Lsn lsn) {
  return os << lsn.ToString();
}

}  // namespace walapply::model
