// lsn.h
//    Strong types for WAL positions and transaction ids.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// An Lsn is a 64-bit WAL position.  PostgreSQL prints it as two hexadecimal
// halves, "16/B374D848"; Parse accepts exactly that form (1 to 8 hex digits
// on each side) and ToString prints it the same way, upper case.

#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

namespace walapply::model {

class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(uint64_t value) : value_(value) {}

  // Parses "X/X"; nullopt for anything else.
  static std::optional<Lsn> Parse(std::string_view text);

  constexpr uint64_t value() const { return value_; }
  constexpr bool valid() const { return value_ != 0; }
  std::string ToString() const;

  friend constexpr bool operator==(Lsn a, Lsn b) {
    return a.value_ == b.value_;
  }
  friend constexpr bool operator!=(Lsn a, Lsn b) {
    return a.value_ != b.value_;
  }
  friend constexpr bool operator<(Lsn a, Lsn b) { return a.value_ < b.value_; }
  friend constexpr bool operator<=(Lsn a, Lsn b) {
    return a.value_ <= b.value_;
  }
  friend constexpr bool operator>(Lsn a, Lsn b) { return a.value_ > b.value_; }
  friend constexpr bool operator>=(Lsn a, Lsn b) {
    return a.value_ >= b.value_;
  }

 private:
  uint64_t value_ = 0;
};

std::ostream& operator<<(std::ostream& os, Lsn lsn);

// A PostgreSQL transaction id (32 bits, as on the wire).
class Xid {
 public:
  constexpr Xid() = default;
  constexpr explicit Xid(uint32_t value) : value_(value) {}
  constexpr uint32_t value() const { return value_; }
  friend constexpr bool operator==(Xid a, Xid b) {
    return a.value_ == b.value_;
  }
  friend constexpr bool operator!=(Xid a, Xid b) {
    return a.value_ != b.value_;
  }
  friend constexpr bool operator<(Xid a, Xid b) { return a.value_ < b.value_; }

 private:
  uint32_t value_ = 0;
};

// A pg_class oid as the plugin reports relations.
class RelId {
 public:
  constexpr RelId() = default;
  constexpr explicit RelId(uint32_t value) : value_(value) {}
  constexpr uint32_t value() const { return value_; }
  friend constexpr bool operator==(RelId a, RelId b) {
    return a.value_ == b.value_;
  }
  friend constexpr bool operator!=(RelId a, RelId b) {
    return a.value_ != b.value_;
  }

 private:
  uint32_t value_ = 0;
};

}  // namespace walapply::model

template <>
struct std::hash<walapply::model::Xid> {
  size_t operator()(walapply::model::Xid x) const noexcept {
    return std::hash<uint32_t>()(x.value());
  }
};
template <>
struct std::hash<walapply::model::RelId> {
  size_t operator()(walapply::model::RelId r) const noexcept {
    return std::hash<uint32_t>()(r.value());
  }
};
