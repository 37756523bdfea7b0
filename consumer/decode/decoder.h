// decoder.h
//    Turns the plugin's protobuf batches into checked model events.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The decoder owns the relation cache of one replication session: Relation
// messages replace the cached version of their relation, and every change
// is resolved against it.  Anything the wire format does not allow (bytes
// that do not parse, a message without a kind, a change for a relation not
// described in this session, a tuple whose width is not the relation's, a
// value without a kind) is returned as a fatal Status naming the LSN of the
// write and the message kind; nothing is skipped.
//
// Not thread-safe; one Decoder per stream.

#pragma once

#include <memory>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "model/change.h"
#include "model/status.h"

namespace walapply::decode {

using Event =
    std::variant<model::BeginEvent, model::CommitEvent, model::Change,
                 model::StreamStartEvent, model::StreamStopEvent,
                 model::StreamCommitEvent, model::StreamAbortEvent,
                 model::BeginPrepareEvent, model::PrepareEvent,
                 model::CommitPreparedEvent, model::RollbackPreparedEvent>;

// The name of an event's message kind, as the wire format spells it.
const char* EventName(const Event& event);

class Decoder {
 public:
  Decoder() = default;
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Decodes one write of the plugin, received at `lsn`, appending its events
  // to *out in order.  On error *out may hold the events before the bad one.
  Status Decode(std::string_view bytes, model::Lsn lsn,
                std::vector<Event>* out);

  // Forgets every relation: a new session starts with new Relation messages.
  void Reset() { relations_.clear(); }

  // The current version of a relation, or null.
  model::RelationPtr FindRelation(model::RelId id) const;
  size_t relation_count() const { return relations_.size(); }

 private:
  Status DecodeMessage(wal2proto::v1::Message* msg, model::Lsn lsn,
                       std::vector<Event>* out);
  Status CheckTuple(const wal2proto::v1::Tuple& tuple,
                    const model::Relation& rel, const char* kind,
                    const char* which, model::Lsn lsn) const;

  std::unordered_map<model::RelId, model::RelationPtr> relations_;
  // The arena of the batch being decoded, shared by its changes.
  std::shared_ptr<const void> storage_;
};

}  // namespace walapply::decode
