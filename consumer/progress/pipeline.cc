// pipeline.cc
//    decode -> txn -> sinks, with the progress that may be confirmed.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "progress/pipeline.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace walapply::progress {

using model::Lsn;

Pipeline::Pipeline(std::vector<std::unique_ptr<sink::Sink>> sinks,
                   PipelineOptions options)
    : sinks_(std::move(sinks)),
      options_(std::move(options)),
      assembler_(
          options_.buffer, [this](txn::Transaction& t) { return Deliver(t); },
          [this](const model::Change& m) { return DeliverMessage(m); }),
      tracker_(sinks_.size()) {}

Status Pipeline::OpenSinks() {
  for (size_t i = 0; i < sinks_.size(); i++) {
    WALAPPLY_RETURN_IF_ERROR(sinks_[i]->Open());
    tracker_.SetDurable(i, sinks_[i]->DurableEndLsn());
  }
  return Status::Ok();
}

Lsn Pipeline::LowestHeldEnd() const {
  Lsn lowest;
  bool first = true;
  for (const auto& s : sinks_) {
    if (first || s->DurableEndLsn() < lowest) lowest = s->DurableEndLsn();
    first = false;
  }
  return lowest;
}

Status Pipeline::OnWrite(std::string_view bytes, Lsn lsn) {
  if (endpos_reached_) return Status::Ok();
  stats_.writes++;
  events_.clear();
  WALAPPLY_RETURN_IF_ERROR(decoder_.Decode(bytes, lsn, &events_));
  for (decode::Event& e : events_) {
    WALAPPLY_RETURN_IF_ERROR(assembler_.Handle(std::move(e), lsn));
    if (endpos_reached_) break;
  }
  return Status::Ok();
}

void Pipeline::OnServerPosition(Lsn wal_end) {
  if (options_.endpos && !assembler_.InTransaction() &&
      wal_end >= *options_.endpos) {
    endpos_reached_ = true;
  }
}

Status Pipeline::Deliver(txn::Transaction& txn) {
  const model::TxnInfo& info = txn.info;
  if (options_.endpos && info.commit_lsn > *options_.endpos) {
    spdlog::info("transaction xid {} commits at {}, past --endpos {}: stopping",
                 info.xid.value(), info.commit_lsn.ToString(),
                 options_.endpos->ToString());
    endpos_reached_ = true;
    return Status::Ok();
  }
  stats_.transactions++;
  stats_.changes += txn.changes->change_count();
  for (auto& s : sinks_) {
    if (info.commit_lsn <= s->HeldCommitLsn()) {
      stats_.skipped_transactions++;
      spdlog::debug("target {} already holds transaction xid {} (commit {})",
                    s->name(), info.xid.value(), info.commit_lsn.ToString());
      continue;
    }
    WALAPPLY_RETURN_IF_ERROR(s->Apply(txn));
  }
  if (options_.endpos && info.end_lsn >= *options_.endpos)
    endpos_reached_ = true;
  return Status::Ok();
}

Status Pipeline::DeliverMessage(const model::Change& m) {
  if (options_.endpos && m.message_lsn > *options_.endpos) {
    endpos_reached_ = true;
    return Status::Ok();
  }
  for (auto& s : sinks_) {
    if (m.message_lsn <= std::max(s->HeldCommitLsn(), s->HeldMessageLsn())) {
      continue;
    }
    WALAPPLY_RETURN_IF_ERROR(s->ApplyMessage(m));
  }
  return Status::Ok();
}

Status Pipeline::MarkIdlePosition(Lsn wal_end) {
  // Idle: every transaction committed before wal_end was delivered (the
  // server sends a keepalive only after the data that precedes it), none is
  // half received, streamed or prepared, and every sink has synced it.
  if (endpos_reached_ || !assembler_.Idle() || HasUnflushed())
    return Status::Ok();
  for (size_t i = 0; i < sinks_.size(); i++) {
    if (wal_end > sinks_[i]->DurableEndLsn()) {
      WALAPPLY_RETURN_IF_ERROR(sinks_[i]->MarkPosition(wal_end));
    }
    tracker_.SetDurable(i, sinks_[i]->DurableEndLsn());
  }
  return Status::Ok();
}

Status Pipeline::FlushSinks() {
  for (size_t i = 0; i < sinks_.size(); i++) {
    if (sinks_[i]->HasUnflushed()) {
      WALAPPLY_RETURN_IF_ERROR(sinks_[i]->Flush());
    }
    tracker_.SetDurable(i, sinks_[i]->DurableEndLsn());
  }
  return Status::Ok();
}

bool Pipeline::HasUnflushed() const {
  return std::any_of(sinks_.begin(), sinks_.end(),
                     [](const auto& s) { return s->HasUnflushed(); });
}

Lsn Pipeline::Confirmable() {
  // Ask the sinks rather than trusting the last FlushSinks: a sink may have
  // become durable on its own (or, for a faulty one, not at all).
  for (size_t i = 0; i < sinks_.size(); i++) {
    tracker_.SetDurable(i, sinks_[i]->DurableEndLsn());
  }
  return tracker_.Advance(assembler_.OldestPendingPrepare());
}

void Pipeline::ResetSession() {
  decoder_.Reset();
  assembler_.Reset();
}

Status Pipeline::ReopenSinks() {
  for (auto& s : sinks_) WALAPPLY_RETURN_IF_ERROR(s->Reopen());
  return Status::Ok();
}

Status Pipeline::CloseSinks() {
  Status first;
  for (auto& s : sinks_) {
    Status st = s->Close();
    if (!st.ok() && first.ok()) first = st;
  }
  return first;
}

}  // namespace walapply::progress
