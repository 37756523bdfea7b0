// assembler.cc
//    Transaction assembly: committed, streamed and two-phase.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "txn/assembler.h"

#include <fmt/format.h>

namespace walapply::txn {

using model::Lsn;

Assembler::Assembler(BufferOptions options, DeliverFn deliver,
                     MessageFn message)
    : options_(std::move(options)),
      deliver_(std::move(deliver)),
      message_(std::move(message)) {}

std::unique_ptr<Assembler::Open> Assembler::NewOpen() {
  auto open = std::make_unique<Open>();
  open->txn.changes = std::make_shared<ChangeBuffer>(options_);
  return open;
}

void Assembler::Reset() {
  current_.reset();
  in_stream_block_ = false;
  streams_.clear();
  prepared_.clear();
}

std::optional<Lsn> Assembler::OldestPendingPrepare() const {
  std::optional<Lsn> oldest;
  for (const auto& [gid, p] : prepared_) {
    if (!oldest || p.prepare_lsn < *oldest) oldest = p.prepare_lsn;
  }
  return oldest;
}

Status Assembler::OutOfPlace(const decode::Event& event, Lsn lsn,
                             const std::string& why) const {
  return Status::Fatal(
      fmt::format("unexpected {} message in write at LSN {}: {}",
                  decode::EventName(event), lsn.ToString(), why));
}

Status Assembler::HandleChange(model::Change&& change, Lsn lsn) {
  if (in_stream_block_) {
    return streams_.at(stream_xid_.value())
        ->txn.changes->Append(std::move(change));
  }
  if (current_) return current_->txn.changes->Append(std::move(change));
  if (change.kind == model::ChangeKind::kMessage && !change.transactional) {
    return message_(change);
  }
  return Status::Fatal(fmt::format(
      "unexpected {} message in write at LSN {}: outside any transaction",
      model::ChangeKindName(change.kind), lsn.ToString()));
}

Status Assembler::Handle(decode::Event&& event, Lsn lsn) {
  if (auto* c = std::get_if<model::Change>(&event)) {
    if (c->kind == model::ChangeKind::kMessage && !c->transactional &&
        (current_ || in_stream_block_)) {
      return OutOfPlace(event, lsn,
                        "a non-transactional message inside a transaction");
    }
    return HandleChange(std::move(*c), lsn);
  }

  if (auto* b = std::get_if<model::BeginEvent>(&event)) {
    if (current_ || in_stream_block_) {
      return OutOfPlace(event, lsn, "a transaction is already open");
    }
    current_ = NewOpen();
    model::TxnInfo& info = current_->txn.info;
    info.xid = b->xid;
    info.commit_lsn = b->final_lsn;
    info.commit_time_us = b->commit_time_us;
    info.origin = b->origin;
    info.origin_lsn = b->origin_lsn;
    return Status::Ok();
  }

  if (auto* c = std::get_if<model::CommitEvent>(&event)) {
    if (!current_ || current_->prepared) {
      return OutOfPlace(event, lsn, "no transaction is open");
    }
    model::TxnInfo& info = current_->txn.info;
    if (info.commit_lsn.valid() && info.commit_lsn != c->commit_lsn) {
      return OutOfPlace(
          event, lsn,
          fmt::format("commit_lsn {} differs from Begin's {}",
                      c->commit_lsn.ToString(), info.commit_lsn.ToString()));
    }
    info.commit_lsn = c->commit_lsn;
    info.end_lsn = c->end_lsn;
    if (c->commit_time_us) info.commit_time_us = c->commit_time_us;
    if (c->xid.value()) info.xid = c->xid;
    std::unique_ptr<Open> open = std::move(current_);
    return deliver_(open->txn);
  }

  if (auto* s = std::get_if<model::StreamStartEvent>(&event)) {
    if (current_ || in_stream_block_) {
      return OutOfPlace(event, lsn, "a transaction or stream block is open");
    }
    auto it = streams_.find(s->xid.value());
    if (s->first_segment) {
      if (it != streams_.end()) {
        return OutOfPlace(
            event, lsn,
            fmt::format("first block of xid {} seen twice", s->xid.value()));
      }
      auto open = NewOpen();
      open->txn.info.xid = s->xid;
      open->txn.info.origin = s->origin;
      open->txn.info.origin_lsn = s->origin_lsn;
      streams_.emplace(s->xid.value(), std::move(open));
    } else if (it == streams_.end()) {
      return OutOfPlace(
          event, lsn,
          fmt::format("block of unknown streamed xid {}", s->xid.value()));
    }
    in_stream_block_ = true;
    stream_xid_ = s->xid;
    return Status::Ok();
  }

  if (std::holds_alternative<model::StreamStopEvent>(event)) {
    if (!in_stream_block_)
      return OutOfPlace(event, lsn, "no stream block open");
    in_stream_block_ = false;
    return Status::Ok();
  }

  if (auto* c = std::get_if<model::StreamCommitEvent>(&event)) {
    if (in_stream_block_ || current_) {
      return OutOfPlace(event, lsn, "inside a transaction or stream block");
    }
    auto it = streams_.find(c->xid.value());
    if (it == streams_.end()) {
      return OutOfPlace(event, lsn,
                        fmt::format("unknown streamed xid {}", c->xid.value()));
    }
    std::unique_ptr<Open> open = std::move(it->second);
    streams_.erase(it);
    model::TxnInfo& info = open->txn.info;
    info.commit_lsn = c->commit_lsn;
    info.end_lsn = c->end_lsn;
    info.commit_time_us = c->commit_time_us;
    return deliver_(open->txn);
  }

  if (auto* a = std::get_if<model::StreamAbortEvent>(&event)) {
    if (in_stream_block_ || current_) {
      return OutOfPlace(event, lsn, "inside a transaction or stream block");
    }
    auto it = streams_.find(a->xid.value());
    if (it == streams_.end()) {
      // A transaction aborted before any of its blocks reached us (they were
      // sent before the position we restarted from): nothing to discard.
      return Status::Ok();
    }
    if (a->subxid == a->xid) {
      streams_.erase(it);
    } else {
      it->second->txn.changes->AbortXid(a->subxid);
    }
    return Status::Ok();
  }

  if (auto* b = std::get_if<model::BeginPrepareEvent>(&event)) {
    if (current_ || in_stream_block_) {
      return OutOfPlace(event, lsn, "a transaction is already open");
    }
    current_ = NewOpen();
    current_->prepared = true;
    model::TxnInfo& info = current_->txn.info;
    info.xid = b->xid;
    info.gid = b->gid;
    info.origin = b->origin;
    info.origin_lsn = b->origin_lsn;
    info.commit_lsn = b->prepare_lsn;  // replaced at COMMIT PREPARED
    return Status::Ok();
  }

  if (auto* p = std::get_if<model::PrepareEvent>(&event)) {
    if (in_stream_block_)
      return OutOfPlace(event, lsn, "inside a stream block");
    std::unique_ptr<Open> open;
    if (p->streamed) {
      if (current_) return OutOfPlace(event, lsn, "a transaction is open");
      auto it = streams_.find(p->xid.value());
      if (it == streams_.end()) {
        return OutOfPlace(
            event, lsn, fmt::format("unknown streamed xid {}", p->xid.value()));
      }
      open = std::move(it->second);
      streams_.erase(it);
    } else {
      if (!current_ || !current_->prepared) {
        return OutOfPlace(event, lsn, "no BeginPrepare is open");
      }
      if (current_->txn.info.gid != p->gid) {
        return OutOfPlace(
            event, lsn,
            fmt::format("gid \"{}\" differs from BeginPrepare's \"{}\"", p->gid,
                        current_->txn.info.gid));
      }
      open = std::move(current_);
    }
    if (prepared_.count(p->gid)) {
      return OutOfPlace(event, lsn,
                        fmt::format("gid \"{}\" is already prepared", p->gid));
    }
    open->txn.info.gid = p->gid;
    prepared_.emplace(p->gid, Pending{std::move(open->txn), p->prepare_lsn});
    return Status::Ok();
  }

  if (auto* c = std::get_if<model::CommitPreparedEvent>(&event)) {
    if (current_ || in_stream_block_) {
      return OutOfPlace(event, lsn, "inside a transaction");
    }
    auto it = prepared_.find(c->gid);
    if (it == prepared_.end()) {
      return OutOfPlace(event, lsn,
                        fmt::format("no prepared transaction with gid \"{}\" "
                                    "was received (was the slot confirmed past "
                                    "its PREPARE by another consumer?)",
                                    c->gid));
    }
    Transaction txn = std::move(it->second.txn);
    prepared_.erase(it);
    txn.info.commit_lsn = c->commit_lsn;
    txn.info.end_lsn = c->end_lsn;
    txn.info.commit_time_us = c->commit_time_us;
    return deliver_(txn);
  }

  if (auto* r = std::get_if<model::RollbackPreparedEvent>(&event)) {
    if (current_ || in_stream_block_) {
      return OutOfPlace(event, lsn, "inside a transaction");
    }
    prepared_.erase(r->gid);
    return Status::Ok();
  }

  return OutOfPlace(event, lsn, "not handled");
}

}  // namespace walapply::txn
