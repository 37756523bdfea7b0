// change_buffer.h
//    The changes of one transaction, in memory up to a limit, then on disk.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// A transaction can be far larger than memory.  A ChangeBuffer keeps its
// first changes in memory; once their estimated size passes the limit it
// opens an anonymous temporary file (unlinked at once, so a crash leaves
// nothing behind) and appends every later change to it, so that the order
// is "memory part, then file part".  Relations of spilled changes are kept
// in a small in-memory table and referred to by slot number.
//
// Spill record layout (little endian):
//   u32 record length (excluding itself)
//   u8  kind; u32 xid; u8 flags (1 has_old, 2 cascade, 4 restart_identity,
//       8 transactional); u64 message_lsn
//   u32 relation count; u32 relation slot * count
//   u32 length + bytes, four times: old tuple, new tuple (protobuf), prefix,
//       content
//
// Changes whose xid was marked aborted (a streamed subtransaction that rolled
// back) are skipped by ForEach.
//
// Not thread-safe.  Movable, not copyable.

#pragma once

#include <google/protobuf/arena.h>

#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "model/change.h"
#include "model/status.h"

namespace walapply::txn {

struct BufferOptions {
  size_t memory_limit_bytes = 16u << 20;
  std::string spill_dir;  // empty: $TMPDIR or /tmp
};

class ChangeBuffer {
 public:
  explicit ChangeBuffer(const BufferOptions& options);
  ~ChangeBuffer();
  ChangeBuffer(const ChangeBuffer&) = delete;
  ChangeBuffer& operator=(const ChangeBuffer&) = delete;

  Status Append(model::Change&& change);
  // Marks the changes of a (sub)transaction as rolled back.
  void AbortXid(model::Xid xid) { aborted_.insert(xid); }

  // Calls fn for every change that was not rolled back, in order; stops at
  // the first error fn returns.
  Status ForEach(const std::function<Status(const model::Change&)>& fn) const;

  // The changes ForEach would give, when all are in memory and none was
  // rolled back; null otherwise.
  const std::vector<model::Change>* in_memory() const {
    return spilled_count_ == 0 && aborted_.empty() ? &memory_ : nullptr;
  }
  size_t change_count() const { return memory_.size() + spilled_count_; }
  size_t spilled_count() const { return spilled_count_; }
  size_t memory_bytes() const { return memory_bytes_; }

 private:
  Status SpillOne(const model::Change& change);
  Status FlushWriteBuffer();
  Status DecodeRecord(const char* p, size_t len, google::protobuf::Arena* arena,
                      model::Change* out) const;

  BufferOptions options_;
  std::vector<model::Change> memory_;
  size_t memory_bytes_ = 0;
  int fd_ = -1;
  uint64_t file_bytes_ = 0;
  size_t spilled_count_ = 0;
  std::string write_buffer_;
  std::vector<model::RelationPtr> spilled_relations_;
  std::unordered_map<const model::Relation*, uint32_t> relation_slots_;
  std::unordered_set<model::Xid> aborted_;
};

}  // namespace walapply::txn
