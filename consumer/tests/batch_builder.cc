// batch_builder.cc
//    Builds wal2proto batches in memory for the unit tests.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "tests/batch_builder.h"

namespace walapply::testing {

pb::Value Int(int64_t v) {
  pb::Value x;
  x.set_int_value(v);
  return x;
}
pb::Value Text(const std::string& v) {
  pb::Value x;
  x.set_text_value(v);
  return x;
}
pb::Value Null() {
  pb::Value x;
  x.set_marker(pb::MARKER_NULL);
  return x;
}
pb::Value Toast() {
  pb::Value x;
  x.set_marker(pb::MARKER_UNCHANGED_TOAST);
  return x;
}
pb::Value NotSent() {
  pb::Value x;
  x.set_marker(pb::MARKER_NOT_SENT);
  return x;
}

pb::Message Relation(uint32_t id, const std::string& schema,
                     const std::string& name, pb::ReplicaIdentity identity,
                     const std::vector<ColSpec>& cols) {
  pb::Message m;
  pb::Relation* r = m.mutable_relation();
  r->set_relation_id(id);
  r->set_schema(schema);
  r->set_name(name);
  r->set_replica_identity(identity);
  for (const ColSpec& c : cols) {
    pb::Column* col = r->add_columns();
    col->set_name(c.name);
    col->set_type_oid(c.type_oid);
    col->set_type_modifier(-1);
    col->set_type_name(c.type_name);
    col->set_identity(c.identity);
    col->set_primary_key(c.identity);
  }
  return m;
}

pb::Message Begin(uint32_t xid, uint64_t final_lsn) {
  pb::Message m;
  m.mutable_begin()->set_xid(xid);
  m.mutable_begin()->set_final_lsn(final_lsn);
  m.mutable_begin()->set_commit_time(1700000000000000);
  return m;
}

pb::Message Commit(uint32_t xid, uint64_t commit_lsn, uint64_t end_lsn) {
  pb::Message m;
  m.mutable_commit()->set_xid(xid);
  m.mutable_commit()->set_commit_lsn(commit_lsn);
  m.mutable_commit()->set_end_lsn(end_lsn);
  m.mutable_commit()->set_commit_time(1700000000000000);
  return m;
}

namespace {
void Fill(pb::Tuple* t, const std::vector<pb::Value>& values) {
  for (const pb::Value& v : values) *t->add_values() = v;
}
}  // namespace

pb::Message Insert(uint32_t rel, const std::vector<pb::Value>& values,
                   uint32_t xid) {
  pb::Message m;
  m.mutable_insert()->set_relation_id(rel);
  m.mutable_insert()->set_xid(xid);
  Fill(m.mutable_insert()->mutable_new_tuple(), values);
  return m;
}

pb::Message Update(uint32_t rel, const std::vector<pb::Value>* old_values,
                   const std::vector<pb::Value>& values, uint32_t xid) {
  pb::Message m;
  m.mutable_update()->set_relation_id(rel);
  m.mutable_update()->set_xid(xid);
  if (old_values) Fill(m.mutable_update()->mutable_old_tuple(), *old_values);
  Fill(m.mutable_update()->mutable_new_tuple(), values);
  return m;
}

pb::Message Delete(uint32_t rel, const std::vector<pb::Value>& old_values,
                   uint32_t xid) {
  pb::Message m;
  m.mutable_delete_()->set_relation_id(rel);
  m.mutable_delete_()->set_xid(xid);
  Fill(m.mutable_delete_()->mutable_old_tuple(), old_values);
  return m;
}

pb::Message StreamStart(uint32_t xid, bool first) {
  pb::Message m;
  m.mutable_stream_start()->set_xid(xid);
  m.mutable_stream_start()->set_first_segment(first);
  return m;
}
pb::Message StreamStop() {
  pb::Message m;
  m.mutable_stream_stop();
  return m;
}
pb::Message StreamCommit(uint32_t xid, uint64_t commit_lsn, uint64_t end_lsn) {
  pb::Message m;
  m.mutable_stream_commit()->set_xid(xid);
  m.mutable_stream_commit()->set_commit_lsn(commit_lsn);
  m.mutable_stream_commit()->set_end_lsn(end_lsn);
  return m;
}
pb::Message StreamAbort(uint32_t xid, uint32_t subxid) {
  pb::Message m;
  m.mutable_stream_abort()->set_xid(xid);
  m.mutable_stream_abort()->set_subxid(subxid);
  return m;
}
pb::Message BeginPrepare(uint32_t xid, uint64_t lsn, const std::string& gid) {
  pb::Message m;
  m.mutable_begin_prepare()->set_xid(xid);
  m.mutable_begin_prepare()->set_prepare_lsn(lsn);
  m.mutable_begin_prepare()->set_end_lsn(lsn + 8);
  m.mutable_begin_prepare()->set_gid(gid);
  return m;
}
pb::Message Prepare(uint32_t xid, uint64_t lsn, const std::string& gid) {
  pb::Message m;
  m.mutable_prepare()->set_xid(xid);
  m.mutable_prepare()->set_prepare_lsn(lsn);
  m.mutable_prepare()->set_end_lsn(lsn + 8);
  m.mutable_prepare()->set_gid(gid);
  return m;
}
pb::Message CommitPrepared(uint32_t xid, uint64_t lsn, uint64_t end,
                           const std::string& gid) {
  pb::Message m;
  m.mutable_commit_prepared()->set_xid(xid);
  m.mutable_commit_prepared()->set_commit_lsn(lsn);
  m.mutable_commit_prepared()->set_end_lsn(end);
  m.mutable_commit_prepared()->set_gid(gid);
  return m;
}
pb::Message RollbackPrepared(uint32_t xid, const std::string& gid) {
  pb::Message m;
  m.mutable_rollback_prepared()->set_xid(xid);
  m.mutable_rollback_prepared()->set_gid(gid);
  return m;
}

std::string Serialize(const std::vector<pb::Message>& messages) {
  pb::Batch b;
  for (const pb::Message& m : messages) *b.add_messages() = m;
  return b.SerializeAsString();
}

}  // namespace walapply::testing
