// assembler.h
//    Assembles decoded events into whole transactions for the targets.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Three shapes of transaction arrive:
//  * committed: Begin, changes, Commit, contiguous in the stream;
//  * streamed (in-progress): blocks StreamStart{xid} ... StreamStop of
//    several transactions interleaved, then StreamCommit or StreamAbort; a
//    StreamAbort naming a subtransaction discards only that subxid's changes;
//  * two-phase: BeginPrepare ... Prepare (or a streamed transaction ended by
//    StreamPrepare), then later CommitPrepared (apply it) or
//    RollbackPrepared (drop it), matched by gid.
// Whole transactions are handed to the Deliver callback in commit order;
// their changes live in a ChangeBuffer, so huge ones spill to disk.
// Non-transactional logical messages are handed over on their own.
//
// Any event out of place (a Commit without Begin, a change outside a
// transaction, a block of an unknown streamed transaction, ...) is a fatal
// error naming the LSN and the event.
//
// Prepared transactions are held here until they are decided, and so must
// stay replayable by the source: OldestPendingPrepare() is the bound the
// confirmed position must not pass.
//
// Not thread-safe.

#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "decode/decoder.h"
#include "txn/change_buffer.h"

namespace walapply::txn {

struct Transaction {
  model::TxnInfo info;
  // Shared: a target that sends a transaction ahead of its result keeps its
  // changes, to apply them again if need be, without copying them.
  std::shared_ptr<ChangeBuffer> changes;
};

class Assembler {
 public:
  using DeliverFn = std::function<Status(Transaction&)>;
  using MessageFn = std::function<Status(const model::Change&)>;

  Assembler(BufferOptions options, DeliverFn deliver, MessageFn message);
  Assembler(const Assembler&) = delete;
  Assembler& operator=(const Assembler&) = delete;

  // Handles one event of the write received at `lsn`.
  Status Handle(decode::Event&& event, model::Lsn lsn);

  // True while a committed transaction or a stream block is half received:
  // stopping now would lose its start.
  bool InTransaction() const { return current_ != nullptr || in_stream_block_; }
  // True when nothing at all is open or pending.
  bool Idle() const {
    return !InTransaction() && streams_.empty() && prepared_.empty();
  }
  // The PREPARE position of the oldest prepared transaction not yet decided.
  std::optional<model::Lsn> OldestPendingPrepare() const;
  size_t open_stream_count() const { return streams_.size(); }
  size_t pending_prepared_count() const { return prepared_.size(); }

  // Forgets everything open (the source will send it again after a
  // reconnect, because nothing of it was confirmed).
  void Reset();

 private:
  struct Open {
    Transaction txn;
    bool prepared = false;  // opened by BeginPrepare
  };
  struct Pending {
    Transaction txn;
    model::Lsn prepare_lsn;
  };

  std::unique_ptr<Open> NewOpen();
  Status OutOfPlace(const decode::Event& event, model::Lsn lsn,
                    const std::string& why) const;
  Status HandleChange(model::Change&& change, model::Lsn lsn);

  BufferOptions options_;
  DeliverFn deliver_;
  MessageFn message_;
  std::unique_ptr<Open> current_;
  bool in_stream_block_ = false;
  model::Xid stream_xid_;
  std::map<uint32_t, std::unique_ptr<Open>> streams_;  // by top-level xid
  std::map<std::string, Pending> prepared_;            // by gid
};

}  // namespace walapply::txn
