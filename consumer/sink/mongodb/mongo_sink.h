// mongo_sink.h
//    The MongoDB target: rows become documents, exactly once in effect.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Each table goes to the collection <schema>.<table> (database = schema)
// unless the config names another.  A document's _id is the row's key
// (document.h has the whole mapping).  Per source transaction:
//  * its changes are queued, per collection, in ordered bulk writes: insert
//    -> replace-with-upsert of the whole document; update -> $set/$unset of
//    the columns it carries (unchanged TOAST columns are left alone); an
//    update that changes the key upserts the new _id and deletes the old
//    one; delete -> delete by _id; truncate -> deleteMany.  Operations on
//    different collections commute, so each collection's bulk is executed
//    in turn;
//  * after every bulk succeeded, the progress document {_id: <slot>} in
//    walapply.progress gets the commit and end LSN -- on condition that it
//    still holds the commit this process last wrote, so a MongoDB that lost
//    acknowledged writes (or a second writer) stops walapply.
// Every operation is idempotent when a transaction is replayed from its
// start over any prefix of itself, so a crash between the bulks and the
// progress write only means the transaction is applied again: Open() reads
// the progress document and HeldCommitLsn() tells the core what to skip.
// Writes are acknowledged under the URI's write concern before Apply()
// returns; Flush() has nothing left to do (use w=majority&journal=true for
// durability against a MongoDB crash).
//
// A lost connection or a server that is not primary is retried with a
// backoff (0.1 s doubling to 5 s) until retry_timeout, then reported as a
// retryable error so the stream restarts; after a retry the progress
// document is read again, and a target that went back in time (lost
// acknowledged writes) stops walapply.  Any other write error stops it with
// the commit LSN, relation and key of the failed operation.
//
// Keyless relations (REPLICA IDENTITY FULL, no primary key) get _id
// {lsn: <commit LSN>, n: <change number>} on insert, so a replayed insert
// lands on the same document, and updates and deletes match the whole old
// row (one document of identical rows).
//
// Not thread-safe.

#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "sink/mongodb/config.h"
#include "sink/mongodb/handles.h"
#include "sink/sink.h"

namespace walapply::sink::mongodb {

class MongoSink : public Sink {
 public:
  MongoSink(std::string name, TargetConfig config);
  ~MongoSink() override;
  MongoSink(const MongoSink&) = delete;
  MongoSink& operator=(const MongoSink&) = delete;

  const std::string& name() const override { return name_; }
  Status Open() override;
  model::Lsn HeldCommitLsn() const override { return held_commit_; }
  model::Lsn HeldMessageLsn() const override { return model::Lsn(); }
  Status Apply(const txn::Transaction& txn) override;
  // Logical messages have no place in MongoDB: they are passed over.
  Status ApplyMessage(const model::Change& message) override {
    return Status::Ok();
  }
  Status Flush() override;
  bool HasUnflushed() const override { return durable_end_ != written_end_; }
  model::Lsn DurableEndLsn() const override { return durable_end_; }
  Status Close() override;

  // Counters for tests and benchmarks.
  struct Stats {
    uint64_t transactions = 0;
    uint64_t operations = 0;
    uint64_t bulks = 0;
    uint64_t retries = 0;
  };
  const Stats& stats() const { return stats_; }

 private:
  struct RelState;
  struct Pending;
  struct Progress {
    model::Lsn commit;
    model::Lsn end;
  };

  Status Connect();
  Result<Progress> ReadProgress();
  Status ApplyOnce(const txn::Transaction& txn);
  Status WriteProgress(const model::TxnInfo& info);
  Result<RelState*> StateOf(const model::RelationPtr& rel);
  Status AddChange(
      const model::Change& c, const model::TxnInfo& info, uint32_t index,
      std::unordered_map<std::string, std::unique_ptr<Pending>>* pending,
      std::vector<Pending*>* order);
  Status Execute(Pending* p, const model::TxnInfo& info);
  // A retryable failure of the server or the network (see Classify).
  Status MongoError(const bson_error_t& error, const std::string& what) const;
  template <typename Fn>
  Status WithRetry(const char* what, Fn&& fn);

  std::string name_;
  TargetConfig config_;
  ClientPtr client_;
  std::unordered_map<const model::Relation*, std::unique_ptr<RelState>>
      relations_;
  // The change whose write the server refused (-1: none), for messages.
  int64_t failed_change_ = -1;
  model::Lsn held_commit_;
  model::Lsn written_end_;
  model::Lsn durable_end_;
  Stats stats_;
};

}  // namespace walapply::sink::mongodb
