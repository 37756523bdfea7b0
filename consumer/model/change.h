// change.h
//    The in-memory model of decoded changes and transactions.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Values and tuples are the wire's own typed representation
// (wal2proto.v1.Value / Tuple): the wire format already carries every value
// typed and self-contained, so a change points into the parsed Batch
// instead of copying each value into a parallel hierarchy.  The Batch lives
// on a protobuf arena that the change keeps alive (`storage`): parsing and
// freeing a batch then costs a few large allocations instead of several per
// value.  Relations
// are immutable once built and shared: a change holds the Relation version
// that was current when it was decoded, so a later schema change cannot
// alter how an earlier buffered change is read.

#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/lsn.h"
#include "wal2proto.pb.h"

namespace walapply::model {

using Value = wal2proto::v1::Value;
using Tuple = wal2proto::v1::Tuple;
using ReplicaIdentity = wal2proto::v1::ReplicaIdentity;

struct Column {
  std::string name;
  uint32_t type_oid = 0;
  int32_t type_modifier = -1;
  std::string type_name;
  uint32_t base_type_oid = 0;
  bool identity = false;
  bool primary_key = false;
  bool not_null = false;
};

// One version of a relation's schema, as a Relation message described it.
struct Relation {
  RelId id;
  std::string schema;
  std::string name;
  ReplicaIdentity replica_identity =
      wal2proto::v1::REPLICA_IDENTITY_UNSPECIFIED;
  std::vector<Column> columns;
};

using RelationPtr = std::shared_ptr<const Relation>;

enum class ChangeKind { kInsert, kUpdate, kDelete, kTruncate, kMessage };

const char* ChangeKindName(ChangeKind kind);

// One row change, truncate or logical message of a transaction.
struct Change {
  ChangeKind kind = ChangeKind::kInsert;
  // For streamed transactions the (sub)transaction that made the change;
  // otherwise as sent (usually 0).
  Xid xid;
  // Insert/update/delete: the relation; truncate: every truncated relation.
  std::vector<RelationPtr> relations;
  // Null when not sent (old) or not applicable (delete has no new tuple).
  const Tuple* old_tuple = nullptr;
  const Tuple* new_tuple = nullptr;
  // Owns the memory old_tuple and new_tuple point into.
  std::shared_ptr<const void> storage;
  // Truncate.
  bool cascade = false;
  bool restart_identity = false;
  // Logical message.
  bool transactional = true;
  std::string prefix;
  std::string content;
  Lsn message_lsn;

  const Relation& relation() const { return *relations.front(); }
  bool has_old_tuple() const { return old_tuple != nullptr; }
  // Rough heap footprint, used to decide when to spill.
  size_t ApproximateBytes() const;
};

// What a target needs to know about a committed transaction.
struct TxnInfo {
  Xid xid;
  Lsn commit_lsn;              // the commit (or COMMIT PREPARED) record
  Lsn end_lsn;                 // the position to confirm once durable
  int64_t commit_time_us = 0;  // microseconds since the Unix epoch
  std::string origin;
  Lsn origin_lsn;
  std::string gid;  // two-phase transactions only
};

// Control messages of the stream, decoded and checked.
struct BeginEvent {
  Xid xid;
  Lsn final_lsn;
  int64_t commit_time_us = 0;
  std::string origin;
  Lsn origin_lsn;
};
struct CommitEvent {
  Xid xid;
  Lsn commit_lsn;
  Lsn end_lsn;
  int64_t commit_time_us = 0;
};
struct StreamStartEvent {
  Xid xid;
  bool first_segment = false;
  // First block of a transaction replayed from a replication origin.
  std::string origin;
  Lsn origin_lsn;
};
struct StreamStopEvent {};
struct StreamCommitEvent {
  Xid xid;
  Lsn commit_lsn;
  Lsn end_lsn;
  int64_t commit_time_us = 0;
};
struct StreamAbortEvent {
  Xid xid;
  Xid subxid;
  Lsn abort_lsn;
};
struct BeginPrepareEvent {
  Xid xid;
  Lsn prepare_lsn;
  Lsn end_lsn;
  int64_t prepare_time_us = 0;
  std::string gid;
  std::string origin;
  Lsn origin_lsn;
};
struct PrepareEvent {
  Xid xid;
  Lsn prepare_lsn;
  Lsn end_lsn;
  int64_t prepare_time_us = 0;
  std::string gid;
  bool streamed = false;  // StreamPrepare: the blocks of xid form it
};
struct CommitPreparedEvent {
  Xid xid;
  Lsn commit_lsn;
  Lsn end_lsn;
  int64_t commit_time_us = 0;
  std::string gid;
};
struct RollbackPreparedEvent {
  Xid xid;
  Lsn prepare_end_lsn;
  Lsn rollback_end_lsn;
  std::string gid;
};

}  // namespace walapply::model
