// resolution.cc
//    Conflict types and the rules that decide which version of a row wins.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/resolution.h"

#include <limits>

namespace walapply::sink::postgres {

namespace {

// -1, 0, 1 as a is older, the same as, or newer than b, by commit time and
// then by node name.
int CompareVersions(const Version& a, const Version& b) {
  int64_t ta = a.commit_time_us.value_or(std::numeric_limits<int64_t>::min());
  int64_t tb = b.commit_time_us.value_or(std::numeric_limits<int64_t>::min());
  if (ta != tb) return ta < tb ? -1 : 1;
  int c = a.node.compare(b.node);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

std::optional<Policy> ParsePolicy(std::string_view name) {
  if (name == "last_update_wins") return Policy::kLastUpdateWins;
  if (name == "first_update_wins") return Policy::kFirstUpdateWins;
  if (name == "apply_remote") return Policy::kApplyRemote;
  if (name == "keep_local") return Policy::kKeepLocal;
  if (name == "error") return Policy::kError;
  return std::nullopt;
}

const char* PolicyName(Policy policy) {
  switch (policy) {
    case Policy::kLastUpdateWins:
      return "last_update_wins";
    case Policy::kFirstUpdateWins:
      return "first_update_wins";
    case Policy::kApplyRemote:
      return "apply_remote";
    case Policy::kKeepLocal:
      return "keep_local";
    case Policy::kError:
      return "error";
  }
  return "?";
}

const char* ConflictTypeName(ConflictType type) {
  switch (type) {
    case ConflictType::kInsertExists:
      return "insert_exists";
    case ConflictType::kInsertDeleted:
      return "insert_deleted";
    case ConflictType::kUpdateOriginDiffers:
      return "update_origin_differs";
    case ConflictType::kUpdateExists:
      return "update_exists";
    case ConflictType::kUpdateMissing:
      return "update_missing";
    case ConflictType::kUpdateDeleted:
      return "update_deleted";
    case ConflictType::kDeleteOriginDiffers:
      return "delete_origin_differs";
    case ConflictType::kDeleteMissing:
      return "delete_missing";
  }
  return "?";
}

bool RemoteWins(Policy policy, const Version& local, const Version& remote) {
  switch (policy) {
    case Policy::kLastUpdateWins:
      return CompareVersions(remote, local) > 0;
    case Policy::kFirstUpdateWins:
      return CompareVersions(remote, local) < 0;
    case Policy::kApplyRemote:
      return true;
    case Policy::kKeepLocal:
    case Policy::kError:
      return false;
  }
  return false;
}

}  // namespace walapply::sink::postgres
