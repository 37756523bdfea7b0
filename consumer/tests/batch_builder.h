// batch_builder.h
//    Builds wal2proto batches in memory for the unit tests.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#pragma once

#include <string>
#include <vector>

#include "wal2proto.pb.h"

namespace walapply::testing {

namespace pb = wal2proto::v1;

struct ColSpec {
  std::string name;
  uint32_t type_oid;
  std::string type_name;
  bool identity = false;
};

pb::Value Int(int64_t v);
pb::Value Text(const std::string& v);
pb::Value Null();
pb::Value Toast();
pb::Value NotSent();

pb::Message Relation(uint32_t id, const std::string& schema,
                     const std::string& name, pb::ReplicaIdentity identity,
                     const std::vector<ColSpec>& cols);
pb::Message Begin(uint32_t xid, uint64_t final_lsn);
pb::Message Commit(uint32_t xid, uint64_t commit_lsn, uint64_t end_lsn);
pb::Message Insert(uint32_t rel, const std::vector<pb::Value>& values,
                   uint32_t xid = 0);
pb::Message Update(uint32_t rel, const std::vector<pb::Value>* old_values,
                   const std::vector<pb::Value>& values, uint32_t xid = 0);
pb::Message Delete(uint32_t rel, const std::vector<pb::Value>& old_values,
                   uint32_t xid = 0);
pb::Message StreamStart(uint32_t xid, bool first);
pb::Message StreamStop();
pb::Message StreamCommit(uint32_t xid, uint64_t commit_lsn, uint64_t end_lsn);
pb::Message StreamAbort(uint32_t xid, uint32_t subxid);
pb::Message BeginPrepare(uint32_t xid, uint64_t lsn, const std::string& gid);
pb::Message Prepare(uint32_t xid, uint64_t lsn, const std::string& gid);
pb::Message CommitPrepared(uint32_t xid, uint64_t lsn, uint64_t end,
                           const std::string& gid);
pb::Message RollbackPrepared(uint32_t xid, const std::string& gid);

std::string Serialize(const std::vector<pb::Message>& messages);

}  // namespace walapply::testing
