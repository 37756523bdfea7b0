// pipeline.h
//    decode -> txn -> sinks, with the progress that may be confirmed.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The Pipeline is everything between the replication connection and the
// targets, with no knowledge of libpq: the stream stage hands it each
// write of the plugin (OnWrite) and keepalive positions, asks it to make the
// targets durable (FlushSinks) and asks what it may confirm
// (Confirmable).  Tests drive it with batches built in memory.
//
// Exactly-once: a transaction whose commit LSN is at or below what a sink
// already holds is not given to that sink again.  --endpos: transactions
// committed after it are not applied, and the pipeline reports that the end
// was reached.
//
// Not thread-safe.

#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "decode/decoder.h"
#include "progress/tracker.h"
#include "sink/sink.h"
#include "txn/assembler.h"

namespace walapply::progress {

struct PipelineOptions {
  txn::BufferOptions buffer;
  std::optional<model::Lsn> endpos;
};

struct PipelineStats {
  uint64_t writes = 0;
  uint64_t transactions = 0;
  uint64_t changes = 0;
  uint64_t skipped_transactions = 0;  // per sink, already held
};

class Pipeline {
 public:
  Pipeline(std::vector<std::unique_ptr<sink::Sink>> sinks,
           PipelineOptions options);
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Opens every sink and records what each holds.
  Status OpenSinks();
  // Decodes and handles one write of the plugin received at `lsn`.
  Status OnWrite(std::string_view bytes, model::Lsn lsn);
  // A keepalive or write reported the server's WAL end: with nothing open,
  // reaching --endpos stops the pipeline.
  void OnServerPosition(model::Lsn wal_end);

  // The server reported WAL up to `wal_end` with nothing pending here: if no
  // transaction is open or unflushed, lets every sink record that position
  // (Sink::MarkPosition), so the slot can advance past WAL the sinks have no
  // use for.  Does nothing otherwise.
  Status MarkIdlePosition(model::Lsn wal_end);

  // Makes every sink's writes durable and updates their durable positions.
  Status FlushSinks();
  bool HasUnflushed() const;
  // The flush position to report to the source (forward only).
  model::Lsn Confirmable();

  bool InTransaction() const { return assembler_.InTransaction(); }
  bool endpos_reached() const { return endpos_reached_; }
  // Forgets everything half received, for a new replication session.
  void ResetSession();

  // Lowest end LSN any sink holds durably (0 if some sink is empty).
  model::Lsn LowestHeldEnd() const;
  const std::vector<std::unique_ptr<sink::Sink>>& sinks() const {
    return sinks_;
  }
  const PipelineStats& stats() const { return stats_; }
  const txn::Assembler& assembler() const { return assembler_; }

  Status ReopenSinks();
  Status CloseSinks();

 private:
  Status Deliver(txn::Transaction& txn);
  Status DeliverMessage(const model::Change& message);

  std::vector<std::unique_ptr<sink::Sink>> sinks_;
  PipelineOptions options_;
  decode::Decoder decoder_;
  txn::Assembler assembler_;
  Tracker tracker_;
  std::vector<decode::Event> events_;
  bool endpos_reached_ = false;
  PipelineStats stats_;
};

}  // namespace walapply::progress
