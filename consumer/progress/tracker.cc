// tracker.cc
//    The position walapply may confirm to the source.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "progress/tracker.h"

#include <algorithm>

namespace walapply::progress {

model::Lsn Tracker::Candidate(std::optional<model::Lsn> pending) const {
  if (durable_.empty()) return model::Lsn();
  model::Lsn lowest = *std::min_element(durable_.begin(), durable_.end());
  // The source decodes a PREPARE again only if it is at or past the
  // confirmed position, so stay at it.
  if (pending && *pending < lowest) lowest = *pending;
  return lowest;
}

model::Lsn Tracker::Advance(std::optional<model::Lsn> pending) {
  model::Lsn c = Candidate(pending);
  if (c > confirmed_) confirmed_ = c;
  return confirmed_;
}

}  // namespace walapply::progress
