// sink.h
//    The target interface: where whole transactions go.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// A Sink receives committed transactions in commit order and makes them
// durable.  The contract that exactly-once delivery rests on:
//  * Open() finds out what the target already holds: HeldCommitLsn() is the
//    commit LSN of the last transaction it holds completely.  The core never
//    hands it a transaction whose commit LSN is at or below that.
//  * Apply() writes a transaction; it need not be durable until Flush().
//    DurableEndLsn() is the end LSN of the last transaction that Flush()
//    made durable (or that Open() found) and is the only position the core
//    may confirm to the source on this sink's behalf.
//  * An Apply() that fails leaves the target as if the transaction had not
//    been written once the target is reopened.
// New kinds of target (PostgreSQL peers, MongoDB) implement this interface
// and need no change to the stream, decode or txn stages.
//
// Sinks are used from one thread.

#pragma once

#include <memory>
#include <string>

#include "model/change.h"
#include "model/status.h"
#include "txn/assembler.h"

namespace walapply::sink {

class Sink {
 public:
  virtual ~Sink() = default;

  // The target as the user named it, for messages.
  virtual const std::string& name() const = 0;

  virtual Status Open() = 0;
  virtual model::Lsn HeldCommitLsn() const = 0;
  // The LSN of the last non-transactional message held (0 if none after the
  // last transaction).
  virtual model::Lsn HeldMessageLsn() const = 0;

  virtual Status Apply(const txn::Transaction& txn) = 0;
  // A non-transactional logical message, delivered outside transactions.
  virtual Status ApplyMessage(const model::Change& message) = 0;

  virtual Status Flush() = 0;
  virtual bool HasUnflushed() const = 0;
  virtual model::Lsn DurableEndLsn() const = 0;

  // The stream is idle at `lsn`: every transaction committed before it has
  // been applied and flushed, and none is open.  A sink that can record the
  // position durably (so that HeldCommitLsn() and DurableEndLsn() become
  // `lsn`, now and after a restart) may do so; this lets the source release
  // WAL while nothing the sinks want is happening, and a walsender that is
  // shutting down (it waits until its whole output is confirmed) exit.  The
  // default does nothing, which keeps the slot where the last transaction
  // left it.
  virtual Status MarkPosition(model::Lsn lsn) { return Status::Ok(); }

  // Reopens output files (SIGHUP, log rotation); a no-op where meaningless.
  virtual Status Reopen() { return Status::Ok(); }
  // Flushes and releases the target.
  virtual Status Close() = 0;
};

// Builds the sink a --target URI names: "file:PATH" (format from the
// extension, .sql or .jsonl, or from "?format=sql|jsonl").  Schemes of
// targets this build does not have are refused with a message that says so.
Result<std::unique_ptr<Sink>> MakeSink(const std::string& uri);

}  // namespace walapply::sink
