// tracker.h
//    The position walapply may confirm to the source.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The flush LSN sent in standby status updates is the lowest durable end
// LSN over every sink, and never past the PREPARE of a prepared transaction
// that is still only held in memory (the source must send it again if
// walapply stops).  It only ever moves forward: a lower candidate than what
// was confirmed already leaves it where it is.
//
// Not thread-safe.

#pragma once

#include <optional>
#include <vector>

#include "model/lsn.h"

namespace walapply::progress {

class Tracker {
 public:
  explicit Tracker(size_t sink_count) : durable_(sink_count) {}

  void SetDurable(size_t sink, model::Lsn end_lsn) {
    durable_.at(sink) = end_lsn;
  }
  model::Lsn durable(size_t sink) const { return durable_.at(sink); }

  // Computes the position that may be confirmed now given the oldest
  // undecided prepare, advances the confirmed position to it if it is
  // higher, and returns the confirmed position.
  model::Lsn Advance(std::optional<model::Lsn> oldest_pending_prepare);

  model::Lsn confirmed() const { return confirmed_; }

  // The candidate alone (without the forward-only rule), for tests.
  model::Lsn Candidate(std::optional<model::Lsn> oldest_pending_prepare) const;

 private:
  std::vector<model::Lsn> durable_;
  model::Lsn confirmed_;
};

}  // namespace walapply::progress
