// resolution.h
//    Conflict types and the rules that decide which version of a row wins.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// A conflict sets the version of a row that a peer holds (a live row, or a
// tombstone left by a delete) against the version a remote transaction
// brings.  Each version is known by its commit time and the node that made
// it.  The rules are pure functions of those two versions and the table's
// policy, so that every node, seeing the same pair in whichever order the
// changes arrive, picks the same winner:
//  * last_update_wins: the later commit time wins; equal times go to the
//    greater node name (byte order), which both nodes compare alike;
//  * first_update_wins: the mirror image (earlier time, then smaller name);
//  * apply_remote / keep_local: always / never the remote version;
//  * error: the caller stops the link instead of resolving.
// A version whose commit time is unknown (the row predates
// track_commit_timestamp, or its xid was frozen) counts as older than any
// known time.

#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace walapply::sink::postgres {

enum class Policy {
  kLastUpdateWins,
  kFirstUpdateWins,
  kApplyRemote,
  kKeepLocal,
  kError,
};

std::optional<Policy> ParsePolicy(std::string_view name);
const char* PolicyName(Policy policy);

enum class ConflictType {
  kInsertExists,         // the key (or another unique key) is taken
  kInsertDeleted,        // the key was deleted here by a newer transaction
  kUpdateOriginDiffers,  // the row was last written by another node
  kUpdateExists,         // the new values take another row's unique key
  kUpdateMissing,        // no such row, and no record of its deletion
  kUpdateDeleted,        // no such row: a tombstone says when it went
  kDeleteOriginDiffers,  // the row was last written by another node
  kDeleteMissing,        // no such row
};

const char* ConflictTypeName(ConflictType type);

// One version of a row: when it was committed and by which node.
struct Version {
  std::optional<int64_t> commit_time_us;  // microseconds since the Unix epoch
  std::string node;
};

// True when the remote version replaces the local one.  Not defined for
// Policy::kError (the caller stops first).
bool RemoteWins(Policy policy, const Version& local, const Version& remote);

}  // namespace walapply::sink::postgres
