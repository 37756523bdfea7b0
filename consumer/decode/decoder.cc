// decoder.cc
//    Decoding of wal2proto.v1.Batch into model events.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "decode/decoder.h"

#include <algorithm>

#include <fmt/format.h>
#include <google/protobuf/arena.h>

namespace walapply::decode {

namespace pb = wal2proto::v1;
using model::Lsn;
using model::RelId;
using model::Xid;

namespace {

const char* MessageKindName(pb::Message::KindCase k) {
  switch (k) {
    case pb::Message::kBegin:
      return "begin";
    case pb::Message::kCommit:
      return "commit";
    case pb::Message::kRelation:
      return "relation";
    case pb::Message::kInsert:
      return "insert";
    case pb::Message::kUpdate:
      return "update";
    case pb::Message::kDelete:
      return "delete";
    case pb::Message::kTruncate:
      return "truncate";
    case pb::Message::kLogicalMessage:
      return "logical_message";
    case pb::Message::kStreamStart:
      return "stream_start";
    case pb::Message::kStreamStop:
      return "stream_stop";
    case pb::Message::kStreamCommit:
      return "stream_commit";
    case pb::Message::kStreamAbort:
      return "stream_abort";
    case pb::Message::kBeginPrepare:
      return "begin_prepare";
    case pb::Message::kPrepare:
      return "prepare";
    case pb::Message::kCommitPrepared:
      return "commit_prepared";
    case pb::Message::kRollbackPrepared:
      return "rollback_prepared";
    case pb::Message::kStreamPrepare:
      return "stream_prepare";
    case pb::Message::KIND_NOT_SET:
      return "unset";
  }
  return "unknown";
}

Status Corrupt(Lsn lsn, const char* kind, const std::string& what) {
  return Status::Fatal(fmt::format("invalid {} message in write at LSN {}: {}",
                                   kind, lsn.ToString(), what));
}

// Values nest only through arrays; a value is well formed when its kind is
// set, and so is every element's.
bool ValueWellFormed(const pb::Value& v, int depth) {
  if (depth > 8) return false;
  switch (v.kind_case()) {
    case pb::Value::KIND_NOT_SET:
      return false;
    case pb::Value::kMarker:
      return v.marker() != pb::MARKER_UNSPECIFIED;
    case pb::Value::kInfinity:
      return v.infinity() != pb::INFINITY_UNSPECIFIED;
    case pb::Value::kArrayValue: {
      const pb::Array& a = v.array_value();
      int64_t n = a.dimensions_size() ? 1 : 0;
      for (int d : a.dimensions()) {
        if (d < 0) return false;
        n *= d;
        if (n > (int64_t{1} << 31)) return false;
      }
      if (a.lower_bounds_size() != 0 &&
          a.lower_bounds_size() != a.dimensions_size()) {
        return false;
      }
      if (n != a.elements_size()) return false;
      for (const pb::Value& e : a.elements()) {
        if (!ValueWellFormed(e, depth + 1)) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

}  // namespace

const char* EventName(const Event& event) {
  struct Visitor {
    const char* operator()(const model::BeginEvent&) { return "begin"; }
    const char* operator()(const model::CommitEvent&) { return "commit"; }
    const char* operator()(const model::Change& c) {
      return model::ChangeKindName(c.kind);
    }
    const char* operator()(const model::StreamStartEvent&) {
      return "stream_start";
    }
    const char* operator()(const model::StreamStopEvent&) {
      return "stream_stop";
    }
    const char* operator()(const model::StreamCommitEvent&) {
      return "stream_commit";
    }
    const char* operator()(const model::StreamAbortEvent&) {
      return "stream_abort";
    }
    const char* operator()(const model::BeginPrepareEvent&) {
      return "begin_prepare";
    }
    const char* operator()(const model::PrepareEvent& p) {
      return p.streamed ? "stream_prepare" : "prepare";
    }
    const char* operator()(const model::CommitPreparedEvent&) {
      return "commit_prepared";
    }
    const char* operator()(const model::RollbackPreparedEvent&) {
      return "rollback_prepared";
    }
  };
  return std::visit(Visitor{}, event);
}

model::RelationPtr Decoder::FindRelation(RelId id) const {
  auto it = relations_.find(id);
  return it == relations_.end() ? nullptr : it->second;
}

Status Decoder::Decode(std::string_view bytes, Lsn lsn,
                       std::vector<Event>* out) {
  // The changes of this write point into the batch; the arena goes away
  // with the last of them.
  // Its first block holds a typical write whole (the parsed form takes a
  // few times the wire's bytes), so that a batch costs one allocation.
  google::protobuf::ArenaOptions arena_options;
  arena_options.start_block_size =
      std::clamp<size_t>(bytes.size() * 4, 4096, size_t{1} << 20);
  arena_options.max_block_size = 1 << 20;
  auto arena = std::make_shared<google::protobuf::Arena>(arena_options);
  pb::Batch* batch =
      google::protobuf::Arena::CreateMessage<pb::Batch>(arena.get());
  storage_ = arena;
  if (!batch->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return Status::Fatal(
        fmt::format("write at LSN {} is not a wal2proto.v1.Batch ({} bytes)",
                    lsn.ToString(), bytes.size()));
  }
  if (batch->messages_size() == 0) {
    return Corrupt(lsn, "batch", "no messages");
  }
  for (pb::Message& msg : *batch->mutable_messages()) {
    WALAPPLY_RETURN_IF_ERROR(DecodeMessage(&msg, lsn, out));
  }
  storage_.reset();
  return Status::Ok();
}

Status Decoder::CheckTuple(const pb::Tuple& tuple, const model::Relation& rel,
                           const char* kind, const char* which, Lsn lsn) const {
  if (static_cast<size_t>(tuple.values_size()) != rel.columns.size()) {
    return Corrupt(lsn, kind,
                   fmt::format("{} tuple of relation \"{}\".\"{}\" (id {}) has "
                               "{} values, the relation has {} columns",
                               which, rel.schema, rel.name, rel.id.value(),
                               tuple.values_size(), rel.columns.size()));
  }
  for (int i = 0; i < tuple.values_size(); i++) {
    if (!ValueWellFormed(tuple.values(i), 0)) {
      return Corrupt(
          lsn, kind,
          fmt::format("{} tuple of relation \"{}\".\"{}\": column "
                      "\"{}\" has a malformed value",
                      which, rel.schema, rel.name, rel.columns[i].name));
    }
  }
  return Status::Ok();
}

Status Decoder::DecodeMessage(pb::Message* msg, Lsn lsn,
                              std::vector<Event>* out) {
  const char* kind = MessageKindName(msg->kind_case());
  auto find_rel = [&](uint32_t id, model::RelationPtr* rel) -> Status {
    auto it = relations_.find(RelId(id));
    if (it == relations_.end()) {
      return Corrupt(lsn, kind,
                     fmt::format("relation id {} was not described by a "
                                 "Relation message in this session",
                                 id));
    }
    *rel = it->second;
    return Status::Ok();
  };

  switch (msg->kind_case()) {
    case pb::Message::KIND_NOT_SET:
      return Corrupt(lsn, kind, "message has no kind (unknown to proto v1?)");

    case pb::Message::kRelation: {
      const pb::Relation& r = msg->relation();
      if (r.relation_id() == 0) return Corrupt(lsn, kind, "relation id 0");
      if (r.name().empty()) return Corrupt(lsn, kind, "empty relation name");
      auto rel = std::make_shared<model::Relation>();
      rel->id = RelId(r.relation_id());
      rel->schema = r.schema();
      rel->name = r.name();
      rel->replica_identity = r.replica_identity();
      rel->columns.reserve(r.columns_size());
      for (const pb::Column& c : r.columns()) {
        if (c.name().empty()) {
          return Corrupt(lsn, kind,
                         fmt::format("relation \"{}\".\"{}\" has a column "
                                     "without a name",
                                     r.schema(), r.name()));
        }
        model::Column col;
        col.name = c.name();
        col.type_oid = c.type_oid();
        col.type_modifier = c.type_modifier();
        col.type_name = c.type_name();
        col.base_type_oid = c.base_type_oid();
        col.identity = c.identity();
        col.primary_key = c.primary_key();
        col.not_null = c.not_null();
        rel->columns.push_back(std::move(col));
      }
      relations_[rel->id] = std::move(rel);
      return Status::Ok();
    }

    case pb::Message::kInsert: {
      model::Change ch;
      ch.kind = model::ChangeKind::kInsert;
      pb::Insert* m = msg->mutable_insert();
      model::RelationPtr rel;
      WALAPPLY_RETURN_IF_ERROR(find_rel(m->relation_id(), &rel));
      if (!m->has_new_tuple()) return Corrupt(lsn, kind, "no new tuple");
      WALAPPLY_RETURN_IF_ERROR(
          CheckTuple(m->new_tuple(), *rel, kind, "new", lsn));
      ch.xid = Xid(m->xid());
      ch.relations.push_back(std::move(rel));
      ch.new_tuple = &m->new_tuple();
      ch.storage = storage_;
      out->emplace_back(std::move(ch));
      return Status::Ok();
    }

    case pb::Message::kUpdate: {
      model::Change ch;
      ch.kind = model::ChangeKind::kUpdate;
      pb::Update* m = msg->mutable_update();
      model::RelationPtr rel;
      WALAPPLY_RETURN_IF_ERROR(find_rel(m->relation_id(), &rel));
      if (!m->has_new_tuple()) return Corrupt(lsn, kind, "no new tuple");
      WALAPPLY_RETURN_IF_ERROR(
          CheckTuple(m->new_tuple(), *rel, kind, "new", lsn));
      if (m->has_old_tuple()) {
        WALAPPLY_RETURN_IF_ERROR(
            CheckTuple(m->old_tuple(), *rel, kind, "old", lsn));
        ch.old_tuple = &m->old_tuple();
      }
      ch.xid = Xid(m->xid());
      ch.relations.push_back(std::move(rel));
      ch.new_tuple = &m->new_tuple();
      ch.storage = storage_;
      out->emplace_back(std::move(ch));
      return Status::Ok();
    }

    case pb::Message::kDelete: {
      model::Change ch;
      ch.kind = model::ChangeKind::kDelete;
      pb::Delete* m = msg->mutable_delete_();
      model::RelationPtr rel;
      WALAPPLY_RETURN_IF_ERROR(find_rel(m->relation_id(), &rel));
      if (m->has_old_tuple()) {
        WALAPPLY_RETURN_IF_ERROR(
            CheckTuple(m->old_tuple(), *rel, kind, "old", lsn));
        ch.old_tuple = &m->old_tuple();
        ch.storage = storage_;
      }
      ch.xid = Xid(m->xid());
      ch.relations.push_back(std::move(rel));
      out->emplace_back(std::move(ch));
      return Status::Ok();
    }

    case pb::Message::kTruncate: {
      const pb::Truncate& m = msg->truncate();
      if (m.relation_ids_size() == 0) return Corrupt(lsn, kind, "no relations");
      model::Change ch;
      ch.kind = model::ChangeKind::kTruncate;
      for (uint32_t id : m.relation_ids()) {
        model::RelationPtr rel;
        WALAPPLY_RETURN_IF_ERROR(find_rel(id, &rel));
        ch.relations.push_back(std::move(rel));
      }
      ch.cascade = m.cascade();
      ch.restart_identity = m.restart_identity();
      ch.xid = Xid(m.xid());
      out->emplace_back(std::move(ch));
      return Status::Ok();
    }

    case pb::Message::kLogicalMessage: {
      pb::LogicalMessage* m = msg->mutable_logical_message();
      model::Change ch;
      ch.kind = model::ChangeKind::kMessage;
      ch.transactional = m->transactional();
      ch.prefix = std::move(*m->mutable_prefix());
      ch.content = std::move(*m->mutable_content());
      ch.message_lsn = Lsn(m->lsn());
      ch.xid = Xid(m->xid());
      out->emplace_back(std::move(ch));
      return Status::Ok();
    }

    case pb::Message::kBegin: {
      const pb::Begin& m = msg->begin();
      model::BeginEvent e;
      e.xid = Xid(m.xid());
      e.final_lsn = Lsn(m.final_lsn());
      e.commit_time_us = m.commit_time();
      e.origin = m.origin();
      e.origin_lsn = Lsn(m.origin_lsn());
      out->emplace_back(std::move(e));
      return Status::Ok();
    }

    case pb::Message::kCommit: {
      const pb::Commit& m = msg->commit();
      if (m.end_lsn() == 0 || m.end_lsn() <= m.commit_lsn()) {
        return Corrupt(lsn, kind,
                       fmt::format("end_lsn {} is not past commit_lsn {}",
                                   Lsn(m.end_lsn()).ToString(),
                                   Lsn(m.commit_lsn()).ToString()));
      }
      out->emplace_back(model::CommitEvent{Xid(m.xid()), Lsn(m.commit_lsn()),
                                           Lsn(m.end_lsn()), m.commit_time()});
      return Status::Ok();
    }

    case pb::Message::kStreamStart: {
      const pb::StreamStart& m = msg->stream_start();
      if (m.xid() == 0) return Corrupt(lsn, kind, "xid 0");
      out->emplace_back(model::StreamStartEvent{
          Xid(m.xid()), m.first_segment(), m.origin(), Lsn(m.origin_lsn())});
      return Status::Ok();
    }

    case pb::Message::kStreamStop:
      out->emplace_back(model::StreamStopEvent{});
      return Status::Ok();

    case pb::Message::kStreamCommit: {
      const pb::StreamCommit& m = msg->stream_commit();
      if (m.xid() == 0) return Corrupt(lsn, kind, "xid 0");
      if (m.end_lsn() <= m.commit_lsn()) {
        return Corrupt(lsn, kind, "end_lsn is not past commit_lsn");
      }
      out->emplace_back(
          model::StreamCommitEvent{Xid(m.xid()), Lsn(m.commit_lsn()),
                                   Lsn(m.end_lsn()), m.commit_time()});
      return Status::Ok();
    }

    case pb::Message::kStreamAbort: {
      const pb::StreamAbort& m = msg->stream_abort();
      if (m.xid() == 0 || m.subxid() == 0) return Corrupt(lsn, kind, "xid 0");
      out->emplace_back(model::StreamAbortEvent{Xid(m.xid()), Xid(m.subxid()),
                                                Lsn(m.abort_lsn())});
      return Status::Ok();
    }

    case pb::Message::kBeginPrepare: {
      const pb::BeginPrepare& m = msg->begin_prepare();
      if (m.gid().empty()) return Corrupt(lsn, kind, "empty gid");
      model::BeginPrepareEvent e;
      e.xid = Xid(m.xid());
      e.prepare_lsn = Lsn(m.prepare_lsn());
      e.end_lsn = Lsn(m.end_lsn());
      e.prepare_time_us = m.prepare_time();
      e.gid = m.gid();
      e.origin = m.origin();
      e.origin_lsn = Lsn(m.origin_lsn());
      out->emplace_back(std::move(e));
      return Status::Ok();
    }

    case pb::Message::kPrepare:
    case pb::Message::kStreamPrepare: {
      bool streamed = msg->kind_case() == pb::Message::kStreamPrepare;
      model::PrepareEvent e;
      if (streamed) {
        const pb::StreamPrepare& m = msg->stream_prepare();
        e = {Xid(m.xid()),     Lsn(m.prepare_lsn()),
             Lsn(m.end_lsn()), m.prepare_time(),
             m.gid(),          true};
      } else {
        const pb::Prepare& m = msg->prepare();
        e = {Xid(m.xid()),     Lsn(m.prepare_lsn()),
             Lsn(m.end_lsn()), m.prepare_time(),
             m.gid(),          false};
      }
      if (e.gid.empty()) return Corrupt(lsn, kind, "empty gid");
      out->emplace_back(std::move(e));
      return Status::Ok();
    }

    case pb::Message::kCommitPrepared: {
      const pb::CommitPrepared& m = msg->commit_prepared();
      if (m.gid().empty()) return Corrupt(lsn, kind, "empty gid");
      if (m.end_lsn() <= m.commit_lsn()) {
        return Corrupt(lsn, kind, "end_lsn is not past commit_lsn");
      }
      out->emplace_back(model::CommitPreparedEvent{
          Xid(m.xid()), Lsn(m.commit_lsn()), Lsn(m.end_lsn()), m.commit_time(),
          m.gid()});
      return Status::Ok();
    }

    case pb::Message::kRollbackPrepared: {
      const pb::RollbackPrepared& m = msg->rollback_prepared();
      if (m.gid().empty()) return Corrupt(lsn, kind, "empty gid");
      out->emplace_back(
          model::RollbackPreparedEvent{Xid(m.xid()), Lsn(m.prepare_end_lsn()),
                                       Lsn(m.rollback_end_lsn()), m.gid()});
      return Status::Ok();
    }
  }
  return Corrupt(lsn, kind, "unexpected message kind");
}

}  // namespace walapply::decode
