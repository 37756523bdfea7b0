// pg_sink.h
//    The peer-master target: applies transactions to a PostgreSQL database
//    with conflict detection and resolution.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// One PgSink is one directed link SOURCE -> NODE.  Its session is set up
// with the replication origin wal2proto_SOURCE (created when missing), and
// every source transaction becomes one target transaction that starts with
// pg_replication_origin_xact_setup(end LSN, commit time): the origin's
// progress commits atomically with the data, the rows keep the source's
// commit time and origin (track_commit_timestamp), and the node's own
// wal2proto plugin, read with origin=none, never sends them on.  The
// position recorded is the transaction's end LSN, as PostgreSQL's own apply
// worker does, so it is both the last commit held and the position to
// confirm.  Commits are asynchronous (synchronous_commit off); Flush() asks
// pg_replication_origin_progress(origin, true), which flushes the WAL up to
// the recorded position, and only that position is reported as durable.
//
// Every change first takes a fast path: one statement that applies it only
// when no conflict is possible (the local row was last written by the same
// source, or by this very transaction; an insert meets no unique key and no
// tombstone).  When that statement touches no row, the slow path reads the
// local version of the row (FOR UPDATE) with its commit time and origin
// (pg_xact_commit_timestamp_origin(xmin)), or the tombstone of a deleted
// row, names the conflict, resolves it by the table's policy
// (resolution.h), writes a row to wal2proto.conflicts in the same
// transaction and applies or skips the change.
//
// Tombstones: an AFTER DELETE statement trigger with a transition table
// (enabled ALWAYS, so it also fires in the apply session, which runs with
// session_replication_role = replica) inserts (relation, key) into
// wal2proto.tombstones, one statement per DELETE; the tombstone row's xmin
// is the deleting transaction, so its commit time and origin are the
// delete's, and of several tombstones of one key the newest counts.  Keys
// are the text of ROW(key columns in name order), built the same way by the
// trigger and by the sink, under the same fixed settings.
//
// Runs of inserts go with COPY (binary when every column allows) when the
// relation has no tombstone for their keys; COPY cannot skip a row, so a
// unique violation rolls the transaction back and it is applied again
// without COPY, which detects and resolves the conflict.  Runs of updates
// and deletes are one statement over unnest() of one array per column.
//
// Changes to relations of schema wal2proto are never applied: those are the
// node's own bookkeeping.
//
// Not thread-safe.  Transactions sent with COPY are fed to the server by a
// courier thread (courier.h) while the next ones are built, several in one
// query when they queue up: the server then goes from one to the next
// without waiting for this process.  A transaction runs only if the one
// before it committed (the statements after a failure in a query do not
// run, and the courier sends nothing more once a query failed), so the
// origin's progress never passes a transaction that is not applied.  The
// connection is the courier's while it holds a transaction: everything
// else that uses it first settles them all (Settle()).  Transactions sent
// in pipeline mode (up to 4 ahead of their results) are kept in order by
// the server: each is the implicit transaction of its sync point, and one
// sent behind another sets up its origin with wal2proto.xact_setup(), which
// fails unless the origin has reached the end of the one before.

#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "sink/postgres/courier.h"
#include "sink/postgres/pg_conn.h"
#include "sink/postgres/pg_target.h"
#include "sink/postgres/resolution.h"
#include "sink/sink.h"

namespace walapply::sink::postgres {

struct PgSinkStats {
  uint64_t transactions = 0;
  uint64_t changes = 0;
  uint64_t slow_path = 0;
  uint64_t pipelined = 0;   // transactions sent whole in pipeline mode
  uint64_t pipeline_retries = 0;  // of those, applied again row by row
  uint64_t behind_failure = 0;    // of those, sent behind one that failed
  uint64_t copied = 0;      // inserts sent with COPY
  uint64_t copy_retries = 0;  // transactions applied again without COPY
  uint64_t conflicts = 0;  // in committed transactions
};

class PgSink : public Sink {
 public:
  PgSink(std::string name, TargetConfig config);
  ~PgSink() override;
  PgSink(const PgSink&) = delete;
  PgSink& operator=(const PgSink&) = delete;

  const std::string& name() const override { return name_; }
  Status Open() override;
  model::Lsn HeldCommitLsn() const override { return applied_end_; }
  model::Lsn HeldMessageLsn() const override { return model::Lsn(); }
  Status Apply(const txn::Transaction& txn) override;
  Status ApplyMessage(const model::Change& message) override;
  Status Flush() override;
  bool HasUnflushed() const override { return unflushed_; }
  model::Lsn DurableEndLsn() const override { return durable_end_; }
  // Records `lsn` as the origin's progress with a transaction that changes
  // nothing else (committed synchronously), so the source may confirm it.
  Status MarkPosition(model::Lsn lsn) override;
  Status Close() override;

  const PgSinkStats& stats() const { return stats_; }

 private:
  // What the sink knows about one version of a source relation on the
  // target.
  struct RelState {
    model::RelationPtr rel;
    std::string qualified;  // "schema"."table"
    std::string display;    // schema.table
    uint32_t local_oid = 0;
    // The relation its tombstones are kept under: the root of its partition
    // tree, so that a row keeps its tombstone whichever partition a delete
    // named (its own oid for any other table).
    uint32_t tomb_oid = 0;
    bool skip = false;        // schema wal2proto
    bool full_match = false;  // no key: rows are found by every column
    std::vector<int> key;     // column indexes of the key
    std::vector<std::vector<int>> uniques;  // other unique keys
    std::vector<std::string> unique_names;
    Policy policy = Policy::kLastUpdateWins;
    std::vector<bool> delta;  // counter columns (delta.SCHEMA.TABLE)
    bool has_delta = false;
    // Per column: the type oid to write in COPY's binary format (the
    // target column has that built-in type), or 0.
    std::vector<uint32_t> binary_oid;
  };

  // The local version of a row: a live row or a tombstone.
  struct Local {
    bool found = false;
    std::string tableoid, ctid;
    std::string row_json;
    Version version;
    bool origin_known = false;
    uint32_t roident = 0;
    bool own = false;  // written earlier in the current transaction
  };

  struct TxnCtx {
    const model::TxnInfo* info;
    Version remote;
  };

  // Consecutive inserts (or simple deletes, or updates of the same columns)
  // of one relation are sent as one statement that applies them all when
  // none conflicts; otherwise each is applied alone, in order (rows the
  // batch already wrote are then this transaction's own: no conflict).
  struct Batch {
    RelState* rs = nullptr;
    model::ChangeKind kind = model::ChangeKind::kInsert;
    std::string signature;  // the columns that carry values
    std::vector<model::Change> changes;
    size_t params = 0;
  };

  // A transaction sent whole in pipeline mode, its results not read yet;
  // its changes are kept to apply it again if a statement met a conflict.
  struct Pipelined {
    model::TxnInfo info;
    // The changes: the transaction's own buffer, all in memory, kept alive
    // here.
    std::shared_ptr<const txn::ChangeBuffer> buffer;
    const std::vector<model::Change>& changes() const {
      return *buffer->in_memory();
    }
    std::vector<PipeQuery> queries;
    // What the origin set-up statement (queries[0]) also calls: the locks
    // on the inserts of the relations the transaction inserts into (see
    // LockInserts).
    std::string locks;
    // Or, for a transaction that is one run of inserts: one simple query
    // (BEGIN, origin set-up, tombstone guard, COPY, COMMIT) and its data.
    std::string copy_sql;
    std::vector<std::string> copy_pieces;  // one per COPY
    uint32_t copy_oid = 0;
    size_t copy_rows = 0;
    bool empty() const { return queries.empty() && copy_sql.empty(); }
  };
  // A transaction handed to the courier, and what became of it (written by
  // the courier's thread before it counts the transaction as run).
  struct CopyTxn {
    Pipelined p;
    uint64_t seq = 0;  // its number among the transactions sent
    enum class Fate { kCommitted, kFailed, kNotRun, kLost } fate =
        Fate::kNotRun;
    Status status;  // kLost: why
    PgConn::CopyOutcome outcome;  // kFailed: of this transaction alone
  };
  using CopyTxnPtr = std::shared_ptr<CopyTxn>;
  using ChangeSource = std::function<Status(
      const std::function<Status(const model::Change&)>&)>;

  Status Connect();
  // Applies a transaction statement by statement, resolving conflicts, and
  // retries what can be retried.
  Status ApplyCarefully(const model::TxnInfo& info, const ChangeSource& each);
  // Builds the pipeline of a transaction whose every change has a
  // one-statement form; leaves out->queries empty when it has not (or is
  // too large to keep).
  Status BuildPipeline(const txn::Transaction& txn, Pipelined* out);
  // The statement of a run of changes [begin, end) of one relation, kind
  // and set of columns.
  void BuildRun(const RelState& rs, const std::vector<model::Change>& changes,
                size_t begin, size_t end, const std::string& signature,
                std::vector<PipeQuery>* out);
  // Reads the results of every transaction in flight; applies again
  // carefully those that failed or did not run.
  Status Settle();
  // Settles the transactions the courier has run, and waits until at most
  // `keep` remain in flight.
  Status SettleCopies(size_t keep);
  // Applies again, carefully, a transaction that failed or did not run
  // (counts one that committed).
  Status SettleCopy(CopyTxn& t);
  // Counts a transaction sent ahead that committed.
  void CountCommitted(const Pipelined& p);
  // Reads the results of the oldest transaction sent in pipeline mode; if
  // it failed, those of every later one too (which then failed as well),
  // and applies them all again carefully, in order.
  Status SettlePipeline();
  // On the courier's thread: sends a batch of COPY transactions as one
  // query and records each one's fate.
  void RunCopies(std::vector<CopyTxnPtr>& batch);
  bool Batchable(const RelState& rs, const model::Change& c,
                 std::string* signature) const;
  Status FlushBatch(const TxnCtx& t);
  // Sends a run of inserts with COPY when no tombstone of the relation can
  // meet them; *done is false when the caller must insert them otherwise.
  // A unique violation aborts the transaction: it is then applied again
  // without COPY, where each conflict is detected and resolved.
  // The COPY command of a run of inserts, and its data in *pieces, one
  // piece per COPY of at most a few hundred rows (binary when every column
  // allows; *binary says which).
  std::string CopyCommand(const RelState& rs, const std::string& signature,
                          const std::vector<model::Change>& changes,
                          std::vector<std::string>* pieces, bool* binary);
  Status CopyInserts(const RelState& rs, const std::string& signature,
                     const std::vector<model::Change>& changes, bool* done);
  Status ApplyRow(const TxnCtx& t, const RelState& rs, const model::Change& c);
  // Installs the extension, and the tombstone triggers on every table with
  // a key (SetupOnce), again after a deadlock.
  Status Setup();
  Status SetupOnce();
  Status ApplyOnce(const model::TxnInfo& info, const ChangeSource& each);
  Status ApplyChange(const TxnCtx& t, const model::Change& change);
  Result<RelState*> State(const model::RelationPtr& rel);

  // via_update: the row of an update whose target row is missing, already
  // resolved against its tombstone.
  Status ApplyInsert(const TxnCtx& t, const RelState& rs,
                     const model::Tuple& row, bool via_update);
  Status ApplyUpdate(const TxnCtx& t, const RelState& rs,
                     const model::Change& c);
  Status ApplyDelete(const TxnCtx& t, const RelState& rs,
                     const model::Change& c);
  Status ApplyTruncate(const TxnCtx& t, const model::Change& c);

  // Looks up the row whose columns `cols` equal `row`'s values (FOR UPDATE).
  Status FindRow(const RelState& rs, const std::vector<int>& cols,
                 const model::Tuple& row, bool null_safe, Local* out);
  Status FindTombstone(const RelState& rs, const model::Tuple& key_row,
                       Local* out);
  Status TouchTombstone(const RelState& rs, const model::Tuple& key_row);
  Status DropTombstone(const RelState& rs, const model::Tuple& key_row);
  // Two links into one node can race on one key: an insert that finds no
  // tombstone, and a newer delete (or update) that finds no row because the
  // insert has not committed.  So a transaction takes the relation's insert
  // lock, shared, before it inserts into it or moves a row to a new key;
  // one that finds a row missing takes it exclusively (waiting for the
  // inserting transactions to end) and looks again.  Once per relation and
  // transaction; *waited tells whether the lock was taken just now (the
  // look must be repeated).  See wal2proto.lock_inserts().
  Status LockInserts(const RelState& rs);
  Status AwaitInserts(const RelState& rs, bool* waited);
  // Rows other than `except` holding one of `row`'s other unique keys.
  Status FindUniqueConflicts(const RelState& rs, const model::Tuple& row,
                             const Local& except, std::vector<Local>* out);
  // True when the change's old row (REPLICA IDENTITY FULL) equals the local
  // row and the local row is older than the change: the source changed the
  // very version held here, so a different origin is no conflict.
  Status MatchesOld(const TxnCtx& t, const RelState& rs, const Local& local,
                    const model::Change& c, bool* matches);
  Status DeleteRow(const RelState& rs, const Local& row);
  // Sets the columns `values` carries; counter columns add new - old when
  // `old` has their old value.  delta_only: the counter columns only.
  Status UpdateRow(const RelState& rs, const Local& row,
                   const model::Tuple& values,
                   const model::Tuple* old = nullptr, bool delta_only = false);

  using ConflictList = std::vector<std::pair<ConflictType, Local>>;
  // Resolves the conflicts of one change at once: *apply says whether the
  // remote change is applied, which it is only if it beats every local
  // version it meets (and can_apply).  Every conflict is logged with the
  // outcome.  With policy error, returns the fatal Status that stops the
  // link before the transaction.
  Status ResolveAll(const TxnCtx& t, const RelState& rs,
                    const ConflictList& conflicts,
                    const model::Tuple* remote_row, bool can_apply,
                    bool* apply);
  Status LogConflict(const TxnCtx& t, const RelState& rs, ConflictType type,
                     const char* resolution, const Local& local,
                     const model::Tuple* remote_row);
  Result<std::string> OriginNode(uint32_t roident);
  void ReadLocal(PGresult* res, int row, int first_col, Local* out);

  std::string name_;
  TargetConfig config_;
  PgConn conn_;
  uint32_t origin_id_ = 0;
  model::Lsn applied_end_;
  model::Lsn durable_end_;
  bool unflushed_ = false;
  bool replay_needed_ = false;  // see Connect()
  bool copy_failed_ = false;    // the last COPY met a unique violation
  bool copy_off_ = false;       // the transaction is applied without COPY
  bool binary_off_ = false;     // the target refused binary COPY data
  Batch batch_;
  // The transactions sent in pipeline mode, oldest first, their results not
  // read yet.
  std::deque<Pipelined> pending_;
  // The COPY transactions sent, in order, not settled yet.
  std::deque<CopyTxnPtr> copies_;
  size_t copy_bytes_ = 0;  // their data
  // Set by the courier when a query failed or the connection was lost: it
  // runs nothing more until Settle() has dealt with it.
  std::atomic<bool> courier_halted_{false};
  // Relations (local oid) that had tombstones when a transaction was to be
  // sent with COPY: their inserts go as statements that look for them.
  std::set<uint32_t> tombstoned_;
  // Relations (tombstone oid) whose insert lock the transaction being
  // applied carefully holds, shared or exclusive.
  std::set<uint32_t> inserts_locked_, inserts_awaited_;
  std::map<const model::Relation*, RelState> relations_;
  std::unordered_map<uint32_t, std::string> origin_nodes_;  // roident -> node
  PgSinkStats stats_;
  uint64_t txn_conflicts_ = 0;  // logged by the transaction being applied
  // Declared last, so that it stops before anything its runner uses goes.
  Courier<CopyTxnPtr> courier_{
      [this](std::vector<CopyTxnPtr>& batch) { RunCopies(batch); }};
};

}  // namespace walapply::sink::postgres
