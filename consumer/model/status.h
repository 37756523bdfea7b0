// status.h
//    Errors as values for walapply.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// A Status is either ok or an error with a kind that tells the caller what
// to do about it: kRetry errors (a lost connection, a source restarting) are
// worth another attempt after a backoff; kFatal errors (corrupt input, a
// refused slot, a target that cannot write) stop walapply with the message.
// Status is [[nodiscard]]: ignoring one is a compile warning, and ignoring it
// on purpose is spelled IgnoreError().

#pragma once

#include <optional>
#include <string>
#include <utility>

namespace walapply {

class [[nodiscard]] Status {
 public:
  enum class Kind { kOk, kRetry, kFatal };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Retry(std::string msg) {
    return Status(Kind::kRetry, std::move(msg));
  }
  static Status Fatal(std::string msg) {
    return Status(Kind::kFatal, std::move(msg));
  }

  bool ok() const { return kind_ == Kind::kOk; }
  bool retryable() const { return kind_ == Kind::kRetry; }
  Kind kind() const { return kind_; }
  const std::string& message() const { return message_; }

  // Explicitly drops an error that does not matter at the call site.
  void IgnoreError() const {}

 private:
  Status(Kind kind, std::string msg) : kind_(kind), message_(std::move(msg)) {}

  Kind kind_ = Kind::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T& operator*() { return *value_; }
  T* operator->() { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

#define WALAPPLY_RETURN_IF_ERROR(expr)         \
  do {                                         \
    ::walapply::Status status_tmp_ = (expr);   \
    if (!status_tmp_.ok()) return status_tmp_; \
  } while (0)

}  // namespace walapply
