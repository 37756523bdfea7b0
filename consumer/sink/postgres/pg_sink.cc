// pg_sink.cc
//    The peer-master target: applies transactions to a PostgreSQL database
//    with conflict detection and resolution.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/pg_sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "sink/file/value_text.h"
#include "sink/postgres/change_access.h"
#include "sink/postgres/copy_data.h"

namespace walapply::sink::postgres {

namespace {

namespace pb = wal2proto::v1;
using model::Lsn;

// The local version of a row, read with the row: where it is, what it
// holds, when and by which origin it was committed, and whether it was
// written by the current transaction.  The commit time and origin are
// computed in the target list, from the row itself: when SELECT ... FOR
// UPDATE waits for a concurrent writer, PostgreSQL re-evaluates the target
// list on the newer row version, whereas a joined function result would
// keep the old version's commit time (and a stale time picks the wrong
// winner, so the nodes diverge).
const char kLocalColumns[] =
    "t.tableoid::oid::text, t.ctid::text, to_jsonb(t.*)::text, "
    "(extract(epoch FROM (pg_xact_commit_timestamp_origin(t.xmin)).timestamp)"
    " * 1000000)::int8, (pg_xact_commit_timestamp_origin(t.xmin)).roident, "
    "coalesce(t.xmin = xid(pg_current_xact_id_if_assigned()), false)";
const char kRowAlias[] = " t";

// The origin check of the fast paths: the row was last written by this
// link's source, or by the current transaction.
std::string SameOriginCond(uint32_t origin_id) {
  return fmt::format(
      "(coalesce((pg_xact_commit_timestamp_origin(t.xmin)).roident = {}, "
      "false) OR "
      "coalesce(t.xmin = xid(pg_current_xact_id_if_assigned()), false))",
      origin_id);
}

// Oids below this are PostgreSQL's own types, the same in every cluster.
constexpr uint32_t kFirstUserOid = 16384;

bool IsMarker(const pb::Value& v, pb::Marker m) {
  return v.kind_case() == pb::Value::kMarker && v.marker() == m;
}

// A column with no usable value in this tuple: not sent, unchanged TOAST,
// or beyond the tuple's end.
bool Absent(const model::Tuple& row, int i) {
  if (i >= row.values_size()) return true;
  const pb::Value& v = row.values(i);
  return IsMarker(v, pb::MARKER_NOT_SENT) ||
         IsMarker(v, pb::MARKER_UNCHANGED_TOAST) ||
         v.kind_case() == pb::Value::KIND_NOT_SET;
}

bool IsNull(const model::Tuple& row, int i) {
  return i < row.values_size() && IsMarker(row.values(i), pb::MARKER_NULL);
}

bool HasUnchangedToast(const model::Tuple& row) {
  for (const auto& v : row.values()) {
    if (IsMarker(v, pb::MARKER_UNCHANGED_TOAST)) return true;
  }
  return false;
}

// The columns that carry a value in `row`: '1' at their index, '0'
// elsewhere.  Runs of changes with the same signature share a statement.
std::string Signature(const model::Relation& rel, const model::Tuple& row) {
  std::string signature(rel.columns.size(), '0');
  for (size_t i = 0; i < signature.size(); i++) {
    if (!Absent(row, static_cast<int>(i))) signature[i] = '1';
  }
  return signature;
}

// Whether a column can be passed as an array and taken apart by unnest():
// its type is named, and is not itself an array (unnest() would flatten
// it).
bool Unnestable(const model::Column& col) {
  return !col.type_name.empty() && col.type_name.back() != ']';
}

// Column `col` of the old or new tuples of changes [begin, end).
std::vector<const model::Value*> ColumnValues(
    const std::vector<model::Change>& changes, size_t begin, size_t end,
    int col, bool old_rows) {
  std::vector<const model::Value*> values;
  values.reserve(end - begin);
  for (size_t r = begin; r < end; r++) {
    const model::Tuple& row =
        old_rows ? OldTuple(changes[r]) : NewTuple(changes[r]);
    values.push_back(&row.values(col));
  }
  return values;
}

std::optional<std::string> ParamText(const pb::Value& v) {
  if (v.kind_case() == pb::Value::kMarker) return std::nullopt;
  std::string s;
  file::AppendValueText(v, &s);
  return s;
}

std::string Ident(const std::string& name) {
  std::string s;
  file::AppendQuotedIdentifier(name, &s);
  return s;
}

std::string Literal(const std::string& text) {
  std::string s;
  file::AppendQuotedLiteral(text, &s);
  return s;
}

// "$n::type" for column `col`: the parameter cast to the column's type as
// the source names it, so that text parameters are read by the right input
// function in every context (VALUES, SELECT lists, ROW constructors).
std::string Placeholder(int n, const model::Column& col) {
  if (col.type_name.empty()) return fmt::format("${}", n);
  return fmt::format("${}::{}", n, col.type_name);
}

std::string TimestampText(int64_t us) {
  std::string s;
  file::AppendTimestamp(us, true, &s);
  return s;
}

// The remote row as a JSON object: numbers and booleans as JSON, json and
// jsonb embedded, everything else as its text form; NULL as null; columns
// without a value (unchanged TOAST, not sent) left out.
std::string RowJson(const model::Relation& rel, const model::Tuple& row) {
  std::string out = "{";
  bool first = true;
  for (size_t i = 0; i < rel.columns.size(); i++) {
    if (Absent(row, static_cast<int>(i))) continue;
    const pb::Value& v = row.values(static_cast<int>(i));
    if (!first) out.push_back(',');
    first = false;
    file::AppendJsonString(rel.columns[i].name, &out);
    out.push_back(':');
    switch (v.kind_case()) {
      case pb::Value::kMarker:
        out.append("null");
        break;
      case pb::Value::kBoolValue:
        out.append(v.bool_value() ? "true" : "false");
        break;
      case pb::Value::kIntValue:
        out.append(std::to_string(v.int_value()));
        break;
      case pb::Value::kJsonValue:
        out.append(v.json_value());
        break;
      default: {
        std::string text;
        file::AppendValueText(v, &text);
        file::AppendJsonString(text, &out);
      }
    }
  }
  out.push_back('}');
  return out;
}

}  // namespace

PgSink::PgSink(std::string name, TargetConfig config)
    : name_(std::move(name)), config_(std::move(config)) {}

PgSink::~PgSink() = default;

Status PgSink::Connect() {
  relations_.clear();
  origin_nodes_.clear();
  WALAPPLY_RETURN_IF_ERROR(conn_.Connect(config_.conninfo));
  // The session of a peer link: asynchronous commit (Flush makes progress
  // durable), replica role (user triggers and foreign keys do not fire, as
  // in PostgreSQL's apply worker), settings under which the text forms of
  // values and tombstone keys are read and built the same way everywhere.
  WALAPPLY_RETURN_IF_ERROR(conn_.Exec(fmt::format(
      "SET synchronous_commit = off; SET session_replication_role = replica; "
      "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = "
      "'postgres'; "
      "SET extra_float_digits = 3; SET bytea_output = 'hex'; "
      // Prepared statements are planned once: their plans do not depend on
      // the values (keys, arrays of rows), and re-planning each execution
      // (what the plan cache does when a custom plan looks cheaper, as it
      // does when it sees how long an array is) costs more than applying a
      // row.
      "SET plan_cache_mode = force_generic_plan; "
      "SET search_path = pg_catalog; "
      // Read by the tombstone triggers (applied_tombstones=off: two nodes).
      "SET wal2proto.applied_tombstones = {}; "
      "SET application_name = {}",
      config_.applied_tombstones ? "on" : "off",
      Literal("walapply " + config_.source_node + "->" + config_.local_node))));
  // In a deadlock with the node's own transactions, the link is the one
  // that gives way: its session looks for deadlocks sooner than theirs
  // (PostgreSQL's default is 1 s), so it is the one rolled back, and it
  // applies the transaction again.  (A role that may not set it keeps the
  // server's value.)
  if (!conn_.Exec("SET deadlock_timeout = '100ms'").ok() && !conn_.connected())
    return Status::Retry(fmt::format("target {}: connection lost", name_));
  {
    // Conflict detection reads every local row's commit time and origin.
    PgResult res;
    WALAPPLY_RETURN_IF_ERROR(conn_.Exec("SHOW track_commit_timestamp", &res));
    if (std::string(PQgetvalue(res.get(), 0, 0)) != "on") {
      return Status::Fatal(fmt::format(
          "target {}: track_commit_timestamp is off; peers need it on to "
          "detect conflicts (set it in postgresql.conf and restart the server)",
          name_));
    }
  }
  WALAPPLY_RETURN_IF_ERROR(Setup());

  // The replication origin: created when missing, then bound to this
  // session.  Right after a crash the old session may still hold it for a
  // moment, so "in use" is retried for a while.
  std::string origin = config_.OriginName();
  PgResult res;
  WALAPPLY_RETURN_IF_ERROR(
      conn_.ExecParams("SELECT coalesce(pg_replication_origin_oid($1), "
                       "pg_replication_origin_create($1))",
                       {origin}, &res));
  origin_id_ = static_cast<uint32_t>(
      std::strtoul(PQgetvalue(res.get(), 0, 0), nullptr, 10));
  for (int attempt = 1;; attempt++) {
    Status st = conn_.ExecParams(
        "SELECT pg_replication_origin_session_setup($1)", {origin});
    if (st.ok()) break;
    if (conn_.last_sqlstate() != "55006" && conn_.last_sqlstate() != "55000")
      return st;
    if (attempt >= 100) {
      return Status::Retry(fmt::format("target {}: {}", name_, st.message()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecParams(
      "SELECT coalesce(pg_replication_origin_progress($1, true), '0/0')::text",
      {origin}, &res));
  auto lsn = Lsn::Parse(PQgetvalue(res.get(), 0, 0));
  if (!lsn) {
    return Status::Fatal(
        fmt::format("target {}: unreadable origin progress \"{}\"", name_,
                    PQgetvalue(res.get(), 0, 0)));
  }
  // A target that restarted may have lost transactions committed
  // asynchronously (never confirmed, since Flush had not covered them):
  // what it holds is what the origin says, and the stream must be replayed
  // from the confirmed position before anything else is applied.
  if (*lsn < applied_end_) {
    spdlog::warn(
        "target {}: holds transactions up to {} only (applied up to {} before "
        "the connection was lost); they will be streamed again",
        name_, lsn->ToString(), applied_end_.ToString());
    replay_needed_ = true;
  }
  applied_end_ = *lsn;
  if (*lsn > durable_end_) durable_end_ = *lsn;
  return Status::Ok();
}

Status PgSink::Setup() {
  // Installing the triggers locks every table, in an order the node's own
  // transactions do not follow: in a deadlock with them this session gives
  // way (its deadlock_timeout is short) and sets up again.
  for (int attempt = 1;; attempt++) {
    Status st = SetupOnce();
    // (a deadlock is a retryable error; the ROLLBACK after it has reset
    // the connection's last SQLSTATE)
    if (st.ok() || !st.retryable() || !conn_.connected() || attempt >= 10)
      return st;
    spdlog::warn("target {}: {}; setting up again", name_, st.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
  }
}

Status PgSink::SetupOnce() {
  // Serialised: several links into one node set up at the same time.
  WALAPPLY_RETURN_IF_ERROR(conn_.Exec(
      "BEGIN; SELECT pg_advisory_xact_lock(hashtext('wal2proto setup')); "
      "CREATE EXTENSION IF NOT EXISTS wal2proto"));
  // The conflict log, the tombstones and their trigger come with the
  // extension; an older installation of it lacks them and must be updated.
  {
    PgResult res;
    Status st = conn_.Exec(
        "SELECT to_regclass('wal2proto.conflicts') IS NOT NULL AND "
        "to_regclass('wal2proto.tombstones') IS NOT NULL AND "
        "to_regprocedure('wal2proto.track_deletes(regclass)') IS NOT NULL "
        "AND to_regprocedure('wal2proto.xact_setup(pg_lsn, timestamptz, "
        "pg_lsn)') IS NOT NULL "
        "AND to_regprocedure('wal2proto.expect_rows(bigint, bigint)') IS NOT "
        "NULL AND to_regprocedure('wal2proto.expect_no_tombstones(oid)') IS "
        "NOT NULL AND to_regprocedure('wal2proto.lock_inserts(oid)') IS NOT "
        "NULL AND to_regprocedure('wal2proto.await_inserts(oid)') IS NOT NULL",
        &res);
    if (st.ok() && PQgetvalue(res.get(), 0, 0)[0] != 't') {
      st = Status::Fatal(
          "extension wal2proto on the target lacks wal2proto.conflicts, "
          "wal2proto.tombstones, wal2proto.track_deletes(regclass), "
          "wal2proto.xact_setup(pg_lsn, timestamptz, pg_lsn), "
          "wal2proto.expect_rows(bigint, bigint), "
          "wal2proto.expect_no_tombstones(oid), wal2proto.lock_inserts(oid) "
          "or wal2proto.await_inserts(oid): install the "
          "current wal2proto (make install) and re-create the extension");
    }
    if (!st.ok()) {
      conn_.Exec("ROLLBACK").IgnoreError();  // the error is what matters
      return st;
    }
  }
  // Deletes leave tombstones from now on, on every table that has a key
  // (tables created later get the trigger when their first change arrives).
  Status st = conn_.Exec(
      "SELECT count(wal2proto.track_deletes(c.oid)) FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition "
      "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'wal2proto') "
      "AND n.nspname NOT LIKE 'pg\\_%'");
  if (!st.ok()) {
    conn_.Exec("ROLLBACK").IgnoreError();  // the error is what matters
    return st;
  }
  WALAPPLY_RETURN_IF_ERROR(conn_.Exec("COMMIT"));
  if (config_.tombstone_retention_s > 0) {
    WALAPPLY_RETURN_IF_ERROR(
        conn_.Exec(fmt::format("DELETE FROM wal2proto.tombstones WHERE "
                               "deleted_at < now() - interval '{} "
                               "seconds'",
                               config_.tombstone_retention_s)));
  }
  return Status::Ok();
}

Status PgSink::Open() {
  Status st = Connect();
  if (!st.ok())
    return Status::Fatal(fmt::format("target {}: {}", name_, st.message()));
  spdlog::info("target {}: link {}->{} with origin {} (id {}), progress {}",
               name_, config_.source_node, config_.local_node,
               config_.OriginName(), origin_id_, applied_end_.ToString());
  return Status::Ok();
}

namespace {

// The SQLSTATE of wal2proto.expect_no_tombstones() refusing a COPY
// (triggered_data_change_violation).
constexpr char kTombstoneGuardState[] = "27000";

}  // namespace

// At most this many COPY transactions, and this much of their data, are in
// flight: enough for the server never to wait for the next one while this
// process decodes, little enough to keep memory flat.
constexpr size_t kMaxCopiesInFlight = 8;
constexpr size_t kMaxCopyBytesInFlight = 32 << 20;
// Transactions sent in pipeline mode ahead of their results.
constexpr size_t kMaxPipelinesInFlight = 4;

Status PgSink::Apply(const txn::Transaction& txn) {
  ChangeSource each = [&](const std::function<Status(const model::Change&)>&
                              fn) { return txn.changes->ForEach(fn); };
  if (!config_.pipeline || replay_needed_) {
    WALAPPLY_RETURN_IF_ERROR(Settle());
    return ApplyCarefully(txn.info, each);
  }
  // The next transaction is built while those in flight are executed.
  Pipelined next;
  WALAPPLY_RETURN_IF_ERROR(BuildPipeline(txn, &next));
  if (!next.copy_sql.empty() && pending_.empty()) {
    WALAPPLY_RETURN_IF_ERROR(SettleCopies(kMaxCopiesInFlight - 1));
    while (!copies_.empty() && copy_bytes_ > kMaxCopyBytesInFlight)
      WALAPPLY_RETURN_IF_ERROR(SettleCopies(copies_.size() - 1));
  } else if (next.copy_sql.empty() && copies_.empty()) {
    while (pending_.size() >= kMaxPipelinesInFlight)
      WALAPPLY_RETURN_IF_ERROR(SettlePipeline());
  } else {
    WALAPPLY_RETURN_IF_ERROR(Settle());
  }
  if (next.empty() || replay_needed_ || (copies_.empty() && !conn_.connected())) {
    WALAPPLY_RETURN_IF_ERROR(Settle());
    return ApplyCarefully(txn.info, each);
  }
  applied_end_ = next.info.end_lsn;
  unflushed_ = true;
  if (!next.copy_sql.empty()) {
    // The courier sends it with its COPY data and reads its results while
    // this thread builds the next transactions.  Nothing here touches the
    // connection again before Settle().
    auto t = std::make_shared<CopyTxn>();
    for (const auto& piece : next.copy_pieces) copy_bytes_ += piece.size();
    t->p = std::move(next);
    t->seq = courier_.sent() + 1;
    copies_.push_back(t);
    courier_.Send(std::move(t));
    return Status::Ok();
  }
  if (!pending_.empty()) {
    // It may commit only if the one sent before it, whose results are not
    // read yet, did: wal2proto.xact_setup checks the origin's progress.
    PipeQuery& setup = next.queries[0];
    setup.sql = "SELECT wal2proto.xact_setup($1, $2, $3)" + next.locks;
    setup.params.push_back(pending_.back().info.end_lsn.ToString());
  }
  Status st = conn_.SendPipeline(next.queries);
  if (!st.ok()) {
    // Whatever reached the server, the origin's progress tells on reconnect.
    pending_.clear();
    conn_.Disconnect();
    return Status::Retry(fmt::format("target {}: {}", name_, st.message()));
  }
  pending_.push_back(std::move(next));
  return Status::Ok();
}

void PgSink::RunCopies(std::vector<CopyTxnPtr>& batch) {
  if (courier_halted_) return;  // each stays kNotRun
  // One query for the whole batch: a failure skips the rest of it.
  std::string sql;
  std::vector<const std::string*> pieces;
  for (const CopyTxnPtr& t : batch) {
    if (!sql.empty()) sql += "; ";
    sql += t->p.copy_sql;
    for (const std::string& piece : t->p.copy_pieces) pieces.push_back(&piece);
  }
  PgConn::CopyOutcome out;
  Status st = conn_.CopyQuery(sql, pieces, &out);
  size_t copies_before = 0;
  for (size_t i = 0; i < batch.size(); i++) {
    CopyTxn& t = *batch[i];
    if (i < out.commits) {
      t.fate = CopyTxn::Fate::kCommitted;
      copies_before += t.p.copy_pieces.size();
    } else if (!st.ok()) {
      t.fate = CopyTxn::Fate::kLost;
      t.status = st;
      break;  // the later ones did not run
    } else if (out.failed) {
      t.fate = CopyTxn::Fate::kFailed;
      t.outcome = out;
      t.outcome.copies = out.copies - copies_before;
      t.outcome.commits = 0;
      break;
    }
  }
  // (A COMMIT missing without an error cannot happen; were it to, nothing
  // more would run either.)
  if (!st.ok() || out.failed || out.commits < batch.size())
    courier_halted_ = true;
}

Status PgSink::SettleCopies(size_t keep) {
  uint64_t run = courier_.run_count();
  while (!copies_.empty()) {
    CopyTxnPtr t = copies_.front();
    if (t->seq > run) {
      if (copies_.size() <= keep) break;
      courier_.WaitFor(t->seq);
      run = courier_.run_count();
    }
    copies_.pop_front();
    for (const auto& piece : t->p.copy_pieces) copy_bytes_ -= piece.size();
    if (t->fate == CopyTxn::Fate::kCommitted) {
      CountCommitted(t->p);
      continue;
    }
    // It failed, was cut short or did not run; nor did any sent after it.
    // The connection is this thread's again once the courier has seen them
    // all (it runs nothing more: courier_halted_).
    courier_.Wait();
    std::deque<CopyTxnPtr> rest;
    rest.swap(copies_);
    copy_bytes_ = 0;
    courier_halted_ = false;
    if (t->fate == CopyTxn::Fate::kLost) {
      // Whatever reached the server, the origin's progress tells on
      // reconnect.
      conn_.Disconnect();
      return Status::Retry(fmt::format(
          "target {}: transaction xid {} (commit {}) in flight: {}", name_,
          t->p.info.xid.value(), t->p.info.commit_lsn.ToString(),
          t->status.message()));
    }
    WALAPPLY_RETURN_IF_ERROR(SettleCopy(*t));
    for (const CopyTxnPtr& later : rest) {
      // Sent ahead, never run: applied carefully too, in order.
      WALAPPLY_RETURN_IF_ERROR(SettleCopy(*later));
    }
    return Status::Ok();
  }
  return Status::Ok();
}

void PgSink::CountCommitted(const Pipelined& p) {
  stats_.pipelined++;
  stats_.transactions++;
  stats_.copied += p.copy_rows;
  for (const auto& c : p.changes()) {
    if (c.kind != model::ChangeKind::kMessage) stats_.changes++;
  }
}

Status PgSink::SettleCopy(CopyTxn& t) {
  const Pipelined& p = t.p;
  if (t.fate == CopyTxn::Fate::kCommitted) {
    CountCommitted(p);
    return Status::Ok();
  }
  ChangeSource each = [&](const std::function<Status(const model::Change&)>&
                              fn) {
    for (const auto& c : p.changes()) WALAPPLY_RETURN_IF_ERROR(fn(c));
    return Status::Ok();
  };
  if (t.fate == CopyTxn::Fate::kFailed) {
    // The transaction failed, so the session may be in an aborted one.
    conn_.Exec("ROLLBACK").IgnoreError();  // applying it again
    if (t.outcome.copies == 0 && t.outcome.sqlstate == kTombstoneGuardState) {
      // The table has tombstones: its inserts must look for them.
      spdlog::debug("target {}: {}", name_, t.outcome.error);
      tombstoned_.insert(p.copy_oid);
      return ApplyCarefully(p.info, each);
    }
    spdlog::debug("target {}: transaction xid {} (commit {}): {}; applying "
                  "it again row by row",
                  name_, p.info.xid.value(), p.info.commit_lsn.ToString(),
                  t.outcome.error);
  } else {
    spdlog::debug("target {}: transaction xid {} (commit {}) was sent behind "
                  "one that failed; applying it row by row",
                  name_, p.info.xid.value(), p.info.commit_lsn.ToString());
    stats_.behind_failure++;
  }
  stats_.pipelined++;
  stats_.pipeline_retries++;
  return ApplyCarefully(p.info, each);
}

Status PgSink::Settle() {
  WALAPPLY_RETURN_IF_ERROR(SettleCopies(0));
  while (!pending_.empty()) WALAPPLY_RETURN_IF_ERROR(SettlePipeline());
  return Status::Ok();
}

Status PgSink::SettlePipeline() {
  // Each transaction's outcome, oldest first: once one has failed, every
  // later one failed too (its progress check finds the origin short of the
  // end of the one before), so all are read before the connection is used
  // again.
  std::vector<std::pair<Pipelined, std::string>> failed;  // and its error
  do {
    Pipelined p = std::move(pending_.front());
    pending_.pop_front();
    bool did_fail = false;
    std::string error;
    Status st = conn_.ReadPipeline(&did_fail, &error);
    if (!st.ok()) {
      // Whatever reached the server, the origin's progress tells on
      // reconnect.
      pending_.clear();
      conn_.Disconnect();
      return Status::Retry(fmt::format(
          "target {}: transaction xid {} (commit {}) in flight: {}", name_,
          p.info.xid.value(), p.info.commit_lsn.ToString(), st.message()));
    }
    if (did_fail) {
      stats_.pipelined++;
      failed.emplace_back(std::move(p), std::move(error));
    } else {
      CountCommitted(p);
    }
  } while (!failed.empty() && !pending_.empty());
  if (failed.empty()) return Status::Ok();
  // A statement met a conflict (or failed otherwise): the transaction was
  // rolled back at its sync point and is applied again, carefully, and so
  // are the ones sent behind it.
  for (size_t i = 0; i < failed.size(); i++) {
    const Pipelined& p = failed[i].first;
    spdlog::debug("target {}: transaction xid {} (commit {}): {}; applying it "
                  "again row by row",
                  name_, p.info.xid.value(), p.info.commit_lsn.ToString(),
                  failed[i].second);
    stats_.pipeline_retries++;
    if (i > 0) stats_.behind_failure++;
    ChangeSource each = [&](const std::function<Status(const model::Change&)>&
                                fn) {
      for (const auto& c : p.changes()) WALAPPLY_RETURN_IF_ERROR(fn(c));
      return Status::Ok();
    };
    WALAPPLY_RETURN_IF_ERROR(ApplyCarefully(p.info, each));
  }
  return Status::Ok();
}

Status PgSink::ApplyCarefully(const model::TxnInfo& info,
                              const ChangeSource& each) {
  copy_off_ = false;
  for (int attempt = 1;; attempt++) {
    if (replay_needed_) {
      replay_needed_ = false;
      return Status::Retry(
          fmt::format("target {} restarted and lost transactions after {}: "
                      "streaming again from "
                      "the confirmed position",
                      name_, applied_end_.ToString()));
    }
    copy_failed_ = false;
    Status st = ApplyOnce(info, each);
    if (st.ok()) {
      copy_off_ = false;
      applied_end_ = info.end_lsn;
      unflushed_ = true;
      stats_.transactions++;
      stats_.conflicts += txn_conflicts_;
      return Status::Ok();
    }
    if (copy_failed_ && conn_.connected()) {
      // A COPY met a row it conflicts with: the transaction is applied
      // again, row by row where needed, which detects the conflict.
      relations_.clear();
      batch_ = Batch();
      conn_.Exec("ROLLBACK").IgnoreError();  // applying again
      spdlog::debug("target {}: transaction xid {}: {}; applying it again "
                    "without COPY",
                    name_, info.xid.value(), st.message());
      stats_.copy_retries++;
      copy_off_ = true;
      attempt--;
      continue;
    }
    // The statement caches may hold state of the rolled-back transaction
    // (a tombstone trigger created in it).
    relations_.clear();
    batch_ = Batch();
    bool unique_violation = conn_.last_sqlstate() == "23505";
    if (conn_.connected())
      conn_.Exec("ROLLBACK").IgnoreError();  // reporting st
    if (!st.retryable() || attempt >= 8) {
      return Status(st.retryable() && !unique_violation
                        ? Status::Retry(st.message())
                        : Status::Fatal(fmt::format(
                              "target {}: transaction xid {} (commit {}): {}",
                              name_, info.xid.value(),
                              info.commit_lsn.ToString(), st.message())));
    }
    spdlog::warn("target {}: transaction xid {} (commit {}): {}; retrying",
                 name_, info.xid.value(), info.commit_lsn.ToString(),
                 st.message());
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
    if (!conn_.connected()) {
      Status c = Connect();
      if (!c.ok()) continue;
      // The commit may have happened before the connection broke.
      if (applied_end_ >= info.end_lsn) {
        unflushed_ = true;
        stats_.transactions++;
        return Status::Ok();
      }
    }
  }
}

Status PgSink::ApplyOnce(const model::TxnInfo& info,
                         const ChangeSource& each) {
  TxnCtx t{&info, Version{info.commit_time_us, config_.source_node}};
  txn_conflicts_ = 0;
  inserts_locked_.clear();
  inserts_awaited_.clear();
  WALAPPLY_RETURN_IF_ERROR(conn_.Exec(fmt::format(
      "BEGIN; SELECT pg_replication_origin_xact_setup('{}', '{}')",
      info.end_lsn.ToString(), TimestampText(info.commit_time_us))));
  batch_ = Batch();
  WALAPPLY_RETURN_IF_ERROR(
      each([&](const model::Change& c) { return ApplyChange(t, c); }));
  WALAPPLY_RETURN_IF_ERROR(FlushBatch(t));
  return conn_.Exec("COMMIT");
}

Result<PgSink::RelState*> PgSink::State(const model::RelationPtr& rel) {
  auto it = relations_.find(rel.get());
  if (it != relations_.end()) return &it->second;
  // The queries below need the connection: the transaction in flight first.
  WALAPPLY_RETURN_IF_ERROR(Settle());
  RelState rs;
  rs.rel = rel;
  rs.qualified = Ident(rel->schema) + "." + Ident(rel->name);
  rs.display = rel->schema + "." + rel->name;
  rs.policy = config_.PolicyFor(rel->schema, rel->name);
  rs.delta.assign(rel->columns.size(), false);
  auto delta = config_.delta_columns.find(rs.display);
  if (delta != config_.delta_columns.end()) {
    for (const std::string& name : delta->second) {
      bool found = false;
      for (size_t i = 0; i < rel->columns.size(); i++) {
        if (rel->columns[i].name == name) rs.delta[i] = found = true;
      }
      if (!found) {
        return Status::Fatal(fmt::format(
            "counter column \"{}\" (delta.{}) is not a column of {}", name,
            rs.display, rs.display));
      }
    }
    rs.has_delta = true;
  }
  if (rel->schema == "wal2proto") {
    rs.skip = true;
    return &relations_.emplace(rel.get(), std::move(rs)).first->second;
  }
  PgResult res;
  WALAPPLY_RETURN_IF_ERROR(
      conn_.ExecPrepared("SELECT c.oid, coalesce(pg_partition_root(c.oid), "
                         "c.oid)::oid FROM pg_class c JOIN pg_namespace n ON "
                         "n.oid = c.relnamespace "
                         "WHERE n.nspname = $1 AND c.relname = $2",
                         {rel->schema, rel->name}, &res));
  if (PQntuples(res.get()) != 1) {
    return Status::Fatal(fmt::format(
        "relation \"{}\" does not exist on the target", rs.display));
  }
  rs.local_oid = static_cast<uint32_t>(
      std::strtoul(PQgetvalue(res.get(), 0, 0), nullptr, 10));
  rs.tomb_oid = static_cast<uint32_t>(
      std::strtoul(PQgetvalue(res.get(), 0, 1), nullptr, 10));

  for (size_t i = 0; i < rel->columns.size(); i++) {
    if (rel->columns[i].primary_key) rs.key.push_back(static_cast<int>(i));
  }
  if (rs.key.empty() && rel->replica_identity != pb::REPLICA_IDENTITY_FULL) {
    for (size_t i = 0; i < rel->columns.size(); i++) {
      if (rel->columns[i].identity) rs.key.push_back(static_cast<int>(i));
    }
  }
  if (rs.key.empty()) {
    if (rel->replica_identity != pb::REPLICA_IDENTITY_FULL) {
      return Status::Fatal(fmt::format(
          "table \"{}\" has no primary key and no replica identity, so its "
          "rows "
          "cannot be matched on a peer; give it a primary key, or set REPLICA "
          "IDENTITY USING INDEX or REPLICA IDENTITY FULL on the source",
          rs.display));
    }
    rs.full_match = true;
  }

  // A deferrable unique key is checked by a trigger, which PostgreSQL does
  // not fire under session_replication_role = replica: no conflict on it
  // would ever be seen, and rows breaking it would go in.
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
      "SELECT c.conname FROM pg_constraint c WHERE c.conrelid = $1 AND "
      "c.contype IN ('p', 'u', 'x') AND c.condeferrable ORDER BY 1 LIMIT 1",
      {std::to_string(rs.local_oid)}, &res));
  if (PQntuples(res.get()) > 0) {
    return Status::Fatal(fmt::format(
        "table \"{}\" has the deferrable constraint \"{}\" on the target: "
        "PostgreSQL does not check deferred constraints in an apply session "
        "(session_replication_role = replica), so its conflicts could not be "
        "detected; drop it and create it again NOT DEFERRABLE",
        rs.display, PQgetvalue(res.get(), 0, 0)));
  }

  // Columns whose values can go in COPY's binary format: a built-in type
  // with a binary form here, and the same type on the target.
  rs.binary_oid.assign(rel->columns.size(), 0);
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
      "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = $1 AND "
      "attnum > 0 AND NOT attisdropped",
      {std::to_string(rs.local_oid)}, &res));
  for (int r = 0; r < PQntuples(res.get()); r++) {
    uint32_t local_type = static_cast<uint32_t>(
        std::strtoul(PQgetvalue(res.get(), r, 1), nullptr, 10));
    for (size_t i = 0; i < rel->columns.size(); i++) {
      const model::Column& col = rel->columns[i];
      if (col.name == PQgetvalue(res.get(), r, 0) &&
          col.type_oid == local_type && local_type < kFirstUserOid &&
          HasBinaryForm(local_type)) {
        rs.binary_oid[i] = local_type;
      }
    }
  }

  // The target's other unique keys (plain columns, no predicate).
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
      "SELECT i.indexrelid::regclass::text, a.attname "
      "FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH "
      "ORDINALITY "
      "AS k(attnum, ord) JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
      "a.attnum = k.attnum "
      "WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND "
      "i.indpred IS NULL AND i.indexprs IS NULL ORDER BY i.indexrelid, k.ord",
      {std::to_string(rs.local_oid)}, &res));
  std::vector<int> sorted_key = rs.key;
  std::sort(sorted_key.begin(), sorted_key.end());
  std::string current;
  std::vector<int> cols;
  bool usable = true;
  auto finish = [&]() {
    if (current.empty()) return;
    std::vector<int> sorted = cols;
    std::sort(sorted.begin(), sorted.end());
    if (usable && sorted != sorted_key) {
      rs.uniques.push_back(cols);
      rs.unique_names.push_back(current);
    }
  };
  for (int r = 0; r < PQntuples(res.get()); r++) {
    std::string index = PQgetvalue(res.get(), r, 0);
    if (index != current) {
      finish();
      current = index;
      cols.clear();
      usable = true;
    }
    std::string col = PQgetvalue(res.get(), r, 1);
    int found = -1;
    for (size_t i = 0; i < rel->columns.size(); i++) {
      if (rel->columns[i].name == col) found = static_cast<int>(i);
    }
    if (found < 0) usable = false;
    cols.push_back(found);
  }
  finish();

  if (!rs.full_match) {
    WALAPPLY_RETURN_IF_ERROR(
        conn_.ExecParams("SELECT wal2proto.track_deletes($1::oid::regclass)",
                         {std::to_string(rs.local_oid)}));
  }
  spdlog::debug(
      "target {}: relation {} (oid {} here): key of {} column(s){}, {} other "
      "unique key(s), resolution {}",
      name_, rs.display, rs.local_oid, rs.key.size(),
      rs.full_match ? " (whole row)" : "", rs.uniques.size(),
      PolicyName(rs.policy));
  return &relations_.emplace(rel.get(), std::move(rs)).first->second;
}

namespace {

constexpr size_t kMaxBatchRows = 1000;
constexpr size_t kMaxBatchParams = 60000;
// Runs of inserts at least this long go with COPY (which costs a round trip
// more than an INSERT).
constexpr size_t kMinCopyRows = 8;

}  // namespace

Status PgSink::ApplyChange(const TxnCtx& t, const model::Change& c) {
  switch (c.kind) {
    case model::ChangeKind::kMessage:
      return Status::Ok();
    case model::ChangeKind::kTruncate:
      WALAPPLY_RETURN_IF_ERROR(FlushBatch(t));
      return ApplyTruncate(t, c);
    default:
      break;
  }
  auto rs = State(RelationOf(c));
  if (!rs.ok()) return rs.status();
  if ((*rs)->skip) return Status::Ok();
  stats_.changes++;
  std::string signature;
  if (Batchable(**rs, c, &signature)) {
    size_t params = (*rs)->rel->columns.size() + (*rs)->key.size();
    if (batch_.rs != *rs || batch_.kind != c.kind ||
        batch_.signature != signature ||
        batch_.changes.size() >= kMaxBatchRows ||
        batch_.params + params > kMaxBatchParams) {
      WALAPPLY_RETURN_IF_ERROR(FlushBatch(t));
      batch_.rs = *rs;
      batch_.kind = c.kind;
      batch_.signature = signature;
    }
    batch_.changes.push_back(c);
    batch_.params += params;
    return Status::Ok();
  }
  WALAPPLY_RETURN_IF_ERROR(FlushBatch(t));
  return ApplyRow(t, **rs, c);
}

Status PgSink::ApplyRow(const TxnCtx& t, const RelState& rs,
                        const model::Change& c) {
  switch (c.kind) {
    case model::ChangeKind::kInsert:
      return ApplyInsert(t, rs, NewTuple(c), false);
    case model::ChangeKind::kUpdate:
      return ApplyUpdate(t, rs, c);
    case model::ChangeKind::kDelete:
      return ApplyDelete(t, rs, c);
    default:
      return Status::Ok();
  }
}

Status PgSink::ApplyTruncate(const TxnCtx& t, const model::Change& c) {
  // A TRUNCATE deletes every row.  Rows this source wrote last go without a
  // word (it truncated them knowingly).  A row another origin wrote is met
  // as a delete would meet it: it stays, and its conflict is logged, when
  // it beats the truncate by the table's resolution (under last_update_wins:
  // a row written after it).  Either way a tombstone of the whole table (or
  // partition) keeps older changes that arrive later from bringing rows
  // back.
  std::string whole;  // the relations truncated as they are
  for (const auto& rel : TruncatedOf(c)) {
    if (rel->schema == "wal2proto") continue;
    auto state = State(rel);
    if (!state.ok()) return state.status();
    const RelState& rs = **state;
    if (rs.skip) continue;
    std::string kept;  // ctids, as an array literal
    if (rs.policy != Policy::kApplyRemote) {
      // The lock TRUNCATE would take, first: no row may be written between
      // the look at the rows and their deletion.
      PgResult res;
      WALAPPLY_RETURN_IF_ERROR(conn_.Exec(
          fmt::format("LOCK TABLE ONLY {} IN ACCESS EXCLUSIVE MODE; SELECT {} "
                      "FROM ONLY {}{} WHERE NOT {}",
                      rs.qualified, kLocalColumns, rs.qualified, kRowAlias,
                      SameOriginCond(origin_id_)),
          &res));
      // (policy error stops the link at the first row newer than the
      // truncate)
      Policy rule = rs.policy == Policy::kError ? Policy::kLastUpdateWins
                                                : rs.policy;
      for (int r = 0; r < PQntuples(res.get()); r++) {
        Local local;
        ReadLocal(res.get(), r, 0, &local);
        auto node = OriginNode(local.roident);
        if (!node.ok()) return node.status();
        local.version.node = local.origin_known ? *node : "";
        if (RemoteWins(rule, local.version, t.remote)) continue;
        bool apply = false;
        WALAPPLY_RETURN_IF_ERROR(ResolveAll(
            t, rs, {{ConflictType::kDeleteOriginDiffers, local}}, nullptr,
            true, &apply));
        if (!apply)
          kept += fmt::format("{}\"{}\"", kept.empty() ? "" : ",", local.ctid);
      }
    }
    if (kept.empty()) {
      whole += (whole.empty() ? "" : ", ") + rs.qualified;
    } else {
      // The rows that lose go one by one (leaving their own tombstones).
      WALAPPLY_RETURN_IF_ERROR(conn_.ExecParams(
          fmt::format("DELETE FROM ONLY {} t WHERE NOT (t.ctid = ANY "
                      "($1::tid[]))",
                      rs.qualified),
          {"{" + kept + "}"}));
    }
    WALAPPLY_RETURN_IF_ERROR(conn_.ExecParams(
        fmt::format("INSERT INTO wal2proto.tombstones (relid, key) VALUES "
                    "({}, $1)",
                    rs.tomb_oid),
        {rs.local_oid == rs.tomb_oid ? std::string("*")
                                     : fmt::format("*{}", rs.local_oid)}));
  }
  if (whole.empty()) return Status::Ok();
  std::string sql = "TRUNCATE " + whole;
  if (c.restart_identity) sql += " RESTART IDENTITY";
  if (c.cascade) sql += " CASCADE";
  return conn_.Exec(sql);
}

// --- reading local versions ---------------------------------------------

void PgSink::ReadLocal(PGresult* res, int row, int first, Local* out) {
  out->found = true;
  out->tableoid = PQgetvalue(res, row, first);
  out->ctid = PQgetvalue(res, row, first + 1);
  out->row_json = PQgetvalue(res, row, first + 2);
  out->version.commit_time_us.reset();
  if (!PQgetisnull(res, row, first + 3)) {
    out->version.commit_time_us =
        std::strtoll(PQgetvalue(res, row, first + 3), nullptr, 10);
  }
  out->origin_known = !PQgetisnull(res, row, first + 4);
  out->roident = out->origin_known
                     ? static_cast<uint32_t>(std::strtoul(
                           PQgetvalue(res, row, first + 4), nullptr, 10))
                     : 0;
  out->own = PQgetvalue(res, row, first + 5)[0] == 't';
}

Result<std::string> PgSink::OriginNode(uint32_t roident) {
  if (roident == 0) return config_.local_node;
  auto it = origin_nodes_.find(roident);
  if (it != origin_nodes_.end()) return it->second;
  PgResult res;
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
      "SELECT roname FROM pg_replication_origin WHERE roident = $1",
      {std::to_string(roident)}, &res));
  std::string node = PQntuples(res.get()) ? PQgetvalue(res.get(), 0, 0)
                                          : fmt::format("origin {}", roident);
  if (node.rfind("wal2proto_", 0) == 0)
    node = node.substr(strlen("wal2proto_"));
  origin_nodes_[roident] = node;
  return node;
}

Status PgSink::FindRow(const RelState& rs, const std::vector<int>& cols,
                       const model::Tuple& row, bool null_safe, Local* out) {
  *out = Local();
  const model::Relation& rel = *rs.rel;
  std::string cond;
  Params params;
  for (int i : cols) {
    if (Absent(row, i)) continue;
    if (IsNull(row, i) && !null_safe)
      return Status::Ok();  // NULL matches nothing
    params.push_back(ParamText(row.values(i)));
    cond += fmt::format(
        "{}t.{} {} {}", cond.empty() ? "" : " AND ", Ident(rel.columns[i].name),
        null_safe ? "IS NOT DISTINCT FROM" : "=",
        Placeholder(static_cast<int>(params.size()), rel.columns[i]));
  }
  if (cond.empty()) return Status::Ok();
  PgResult res;
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
      fmt::format("SELECT {} FROM {}{} WHERE {} LIMIT 1 FOR UPDATE OF t",
                  kLocalColumns, rs.qualified, kRowAlias, cond),
      params, &res));
  if (PQntuples(res.get()) == 0) return Status::Ok();
  ReadLocal(res.get(), 0, 0, out);
  auto node = OriginNode(out->roident);
  if (!node.ok()) return node.status();
  out->version.node = out->origin_known ? *node : "";
  return Status::Ok();
}

namespace {

// The key columns in the order of their names: the order of the fields of
// a tombstone's key (see TombstoneKey).
std::vector<int> KeyByName(const model::Relation& rel,
                           const std::vector<int>& key) {
  std::vector<int> cols = key;
  std::sort(cols.begin(), cols.end(), [&](int a, int b) {
    return rel.columns[a].name < rel.columns[b].name;
  });
  return cols;
}

// The tombstone keys a lookup of SQL expression `key` looks for: the key,
// and those a TRUNCATE leaves (none is the text of a row, which starts with
// "("): '*' for a whole table or partition tree, '*OID' for one partition,
// kept under the tree's root as the others.  A key was deleted when its row
// was, or when its table or partition was truncated.
std::vector<std::string> LookupKeys(uint32_t local_oid, const std::string& key) {
  return {key, "'*'", fmt::format("'*{}'", local_oid)};
}

// SQL that is true when a tombstone under relation tomb_oid stands for the
// key that SQL expression `key` gives, or for a truncate (see LookupKeys):
// one equality probe of the index for each.  Not an IN list:
// a ScalarArrayOp, which the planner costs per element, and, planning a
// prepared statement once while there are few tombstones, may leave out of
// the index condition; every probe would then read all the relation's
// tombstones.
std::string TombstoneFor(uint32_t tomb_oid, uint32_t local_oid,
                         const std::string& key) {
  std::string sql = "(";
  for (const std::string& k : LookupKeys(local_oid, key)) {
    sql += fmt::format(
        "{}(SELECT 1 FROM wal2proto.tombstones tb WHERE tb.relid = {} AND "
        "tb.key = {} LIMIT 1) IS NOT NULL",
        sql.size() > 1 ? " OR " : "", tomb_oid, k);
  }
  return sql + ")";
}

// A tombstone's key as wal2proto.record_tombstones() builds it: the text of
// ROW(k1, k2, ...) over the key columns in the order of their names, under
// the session's fixed settings.  expr(i) is the SQL of column i's value.
template <typename Expr>
std::string TombstoneKey(const model::Relation& rel,
                         const std::vector<int>& key, Expr expr) {
  std::string s = "ROW(";
  bool first = true;
  for (int i : KeyByName(rel, key)) {
    s += (first ? "" : ", ") + expr(i);
    first = false;
  }
  return s + ")::text";
}

// TombstoneKey of `row`'s key values, as parameters appended to *params.
std::string KeyParams(const model::Relation& rel, const std::vector<int>& key,
                      const model::Tuple& row, Params* params) {
  return TombstoneKey(rel, key, [&](int i) {
    params->push_back(i < row.values_size() ? ParamText(row.values(i))
                                            : std::nullopt);
    return Placeholder(static_cast<int>(params->size()), rel.columns[i]);
  });
}

}  // namespace

Status PgSink::FindTombstone(const RelState& rs, const model::Tuple& key_row,
                             Local* out) {
  *out = Local();
  if (rs.full_match) return Status::Ok();
  Params params;
  std::string key = KeyParams(*rs.rel, rs.key, key_row, &params);
  PgResult res;
  // A key deleted several times has several tombstones: the newest counts
  // (one written by this transaction, with no commit time yet, first).
  // (The tombstones found by equality probes of the index, and read by
  // their ctids: see TombstoneFor.)
  std::string ctids;
  for (const std::string& k : LookupKeys(rs.local_oid, key)) {
    ctids += fmt::format(
        "{}SELECT tb.ctid FROM wal2proto.tombstones tb WHERE tb.relid = {} "
        "AND tb.key = {}",
        ctids.empty() ? "" : " UNION ALL ", rs.tomb_oid, k);
  }
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
      fmt::format(
          "SELECT {} FROM wal2proto.tombstones{} WHERE t.ctid = ANY (ARRAY({})) "
          "ORDER BY pg_xact_commit_timestamp(t.xmin) DESC NULLS FIRST LIMIT 1 "
          "FOR UPDATE OF t",
          kLocalColumns, kRowAlias, ctids),
      params, &res));
  if (PQntuples(res.get()) == 0) return Status::Ok();
  ReadLocal(res.get(), 0, 0, out);
  out->row_json.clear();  // the tombstone, not a row
  auto node = OriginNode(out->roident);
  if (!node.ok()) return node.status();
  out->version.node = out->origin_known ? *node : "";
  return Status::Ok();
}

Status PgSink::TouchTombstone(const RelState& rs, const model::Tuple& key_row) {
  if (rs.full_match) return Status::Ok();
  Params params;
  std::string key = KeyParams(*rs.rel, rs.key, key_row, &params);
  // A new tombstone: the newest, and this transaction's.
  return conn_.ExecPrepared(
      fmt::format(
          "INSERT INTO wal2proto.tombstones (relid, key) VALUES ({}, {})",
          rs.tomb_oid, key),
      params);
}

Status PgSink::DropTombstone(const RelState& rs, const model::Tuple& key_row) {
  if (rs.full_match) return Status::Ok();
  Params params;
  std::string key = KeyParams(*rs.rel, rs.key, key_row, &params);
  return conn_.ExecPrepared(
      fmt::format(
          "DELETE FROM wal2proto.tombstones WHERE relid = {} AND key = {}",
          rs.tomb_oid, key),
      params);
}

Status PgSink::LockInserts(const RelState& rs) {
  if (rs.full_match || inserts_locked_.count(rs.tomb_oid) ||
      inserts_awaited_.count(rs.tomb_oid)) {
    return Status::Ok();
  }
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
      "SELECT wal2proto.lock_inserts($1)", {std::to_string(rs.tomb_oid)}));
  inserts_locked_.insert(rs.tomb_oid);
  return Status::Ok();
}

Status PgSink::AwaitInserts(const RelState& rs, bool* waited) {
  *waited = false;
  if (rs.full_match || inserts_awaited_.count(rs.tomb_oid)) return Status::Ok();
  WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
      "SELECT wal2proto.await_inserts($1)", {std::to_string(rs.tomb_oid)}));
  inserts_awaited_.insert(rs.tomb_oid);
  *waited = true;
  return Status::Ok();
}

Status PgSink::FindUniqueConflicts(const RelState& rs, const model::Tuple& row,
                                   const Local& except,
                                   std::vector<Local>* out) {
  for (const auto& cols : rs.uniques) {
    bool complete = true;
    for (int i : cols) complete &= !Absent(row, i) && !IsNull(row, i);
    if (!complete) continue;
    Local other;
    WALAPPLY_RETURN_IF_ERROR(FindRow(rs, cols, row, false, &other));
    if (!other.found) continue;
    if (except.found && other.tableoid == except.tableoid &&
        other.ctid == except.ctid)
      continue;
    bool seen = false;
    for (const Local& l : *out)
      seen |= l.tableoid == other.tableoid && l.ctid == other.ctid;
    if (!seen) out->push_back(other);
  }
  return Status::Ok();
}

// --- writing --------------------------------------------------------------

Status PgSink::DeleteRow(const RelState& rs, const Local& row) {
  return conn_.ExecPrepared(
      fmt::format(
          "DELETE FROM {} t WHERE t.tableoid = $1::oid AND t.ctid = $2::tid",
          rs.qualified),
      {row.tableoid, row.ctid});
}

namespace {

// "col = $n::type, ..." for the columns `values` carries; a counter column
// whose old value is known becomes "col = coalesce(t.col, $old) + ($new -
// $old)".
std::string SetClause(const model::Relation& rel,
                      const std::vector<bool>& delta,
                      const model::Tuple& values, const model::Tuple* old,
                      bool delta_only, Params* params) {
  std::string set;
  for (size_t c = 0; c < rel.columns.size(); c++) {
    int i = static_cast<int>(c);
    if (Absent(values, i)) continue;  // unchanged TOAST keeps its value
    const model::Column& col = rel.columns[c];
    bool is_delta = !delta.empty() && delta[c] && old && !Absent(*old, i) &&
                    !IsNull(*old, i) && !IsNull(values, i);
    if (delta_only && !is_delta) continue;
    params->push_back(ParamText(values.values(i)));
    int n = static_cast<int>(params->size());
    if (is_delta) {
      params->push_back(ParamText(old->values(i)));
      int m = static_cast<int>(params->size());
      set += fmt::format("{}{} = coalesce(t.{}, {}) + ({} - {})",
                         set.empty() ? "" : ", ", Ident(col.name),
                         Ident(col.name), Placeholder(m, col),
                         Placeholder(n, col), Placeholder(m, col));
    } else {
      set += fmt::format("{}{} = {}", set.empty() ? "" : ", ", Ident(col.name),
                         Placeholder(n, col));
    }
  }
  return set;
}

}  // namespace

Status PgSink::UpdateRow(const RelState& rs, const Local& row,
                         const model::Tuple& values, const model::Tuple* old,
                         bool delta_only) {
  Params params{row.tableoid, row.ctid};
  std::string set =
      SetClause(*rs.rel, rs.delta, values, old, delta_only, &params);
  if (set.empty()) return Status::Ok();
  return conn_.ExecPrepared(
      fmt::format(
          "UPDATE {} t SET {} WHERE t.tableoid = $1::oid AND t.ctid = $2::tid",
          rs.qualified, set),
      params);
}

// --- conflicts --------------------------------------------------------------

Status PgSink::LogConflict(const TxnCtx& t, const RelState& rs,
                           ConflictType type, const char* resolution,
                           const Local& local, const model::Tuple* remote_row) {
  txn_conflicts_++;
  Params p;
  p.push_back(config_.source_node + "->" + config_.local_node);
  p.push_back(rs.display);
  p.push_back(std::string(ConflictTypeName(type)));
  p.push_back(std::string(resolution));
  p.push_back(local.row_json.empty()
                  ? std::nullopt
                  : std::optional<std::string>(local.row_json));
  p.push_back(remote_row
                  ? std::optional<std::string>(RowJson(*rs.rel, *remote_row))
                  : std::nullopt);
  p.push_back(local.version.commit_time_us
                  ? std::optional<std::string>(
                        TimestampText(*local.version.commit_time_us))
                  : std::nullopt);
  p.push_back(local.found && local.origin_known
                  ? std::optional<std::string>(local.version.node)
                  : std::nullopt);
  p.push_back(TimestampText(t.info->commit_time_us));
  p.push_back(config_.source_node);
  p.push_back(t.info->commit_lsn.ToString());
  spdlog::info("target {}: {} on {} in transaction xid {} (commit {}): {}",
               name_, ConflictTypeName(type), rs.display, t.info->xid.value(),
               t.info->commit_lsn.ToString(), resolution);
  return conn_.ExecPrepared(
      "INSERT INTO wal2proto.conflicts (link, relation, conflict_type, "
      "resolution, "
      "local_row, remote_row, local_commit_time, local_origin, "
      "remote_commit_time, "
      "remote_origin, remote_commit_lsn) VALUES ($1, $2, $3, $4, $5::jsonb, "
      "$6::jsonb, "
      "$7::timestamptz, $8, $9::timestamptz, $10, $11::pg_lsn)",
      p);
}

Status PgSink::ResolveAll(const TxnCtx& t, const RelState& rs,
                          const ConflictList& conflicts,
                          const model::Tuple* remote_row, bool can_apply,
                          bool* apply) {
  const model::TxnInfo& info = *t.info;
  if (rs.policy == Policy::kError) {
    return Status::Fatal(fmt::format(
        "link {}->{}: {} conflict on table {} in transaction xid {} (commit "
        "{}, end "
        "{}), and the table's resolution is \"error\": nothing of the "
        "transaction "
        "was applied and the slot stays where it was. To skip the transaction, "
        "stop "
        "walapply and run on this node: SELECT "
        "pg_replication_origin_advance('{}', "
        "'{}'); to apply it, give the table another resolution "
        "(resolution.{}=POLICY) and start walapply again",
        config_.source_node, config_.local_node,
        ConflictTypeName(conflicts[0].first), rs.display, info.xid.value(),
        info.commit_lsn.ToString(), info.end_lsn.ToString(),
        config_.OriginName(), info.end_lsn.ToString(), rs.display));
  }
  bool wins = can_apply;
  for (const auto& c : conflicts)
    wins = wins && RemoteWins(rs.policy, c.second.version, t.remote);
  const char* resolution =
      !can_apply ? "skip" : (wins ? "apply_remote" : "keep_local");
  for (const auto& c : conflicts) {
    WALAPPLY_RETURN_IF_ERROR(
        LogConflict(t, rs, c.first, resolution, c.second, remote_row));
  }
  *apply = wins;
  return Status::Ok();
}

namespace {

// Types without an equality operator: left out when rows are matched by
// every column.
bool Comparable(const model::Column& col) {
  switch (col.base_type_oid ? col.base_type_oid : col.type_oid) {
    case 114:  // json
    case 142:  // xml
    case 600:  // point
    case 628:  // line
    case 604:  // polygon
      return false;
    default:
      return true;
  }
}

std::vector<int> MatchColumns(const model::Relation& rel) {
  std::vector<int> cols;
  for (size_t i = 0; i < rel.columns.size(); i++) {
    if (Comparable(rel.columns[i])) cols.push_back(static_cast<int>(i));
  }
  return cols;
}


// "t.k = $n::type AND ..." over the key columns of `row`; false when a key
// value is missing or NULL (no row can match).
bool KeyCond(const model::Relation& rel, const std::vector<int>& key,
             const model::Tuple& row, Params* params, std::string* cond) {
  for (int i : key) {
    if (Absent(row, i) || IsNull(row, i)) return false;
    params->push_back(ParamText(row.values(i)));
    *cond += fmt::format(
        "{}t.{} = {}", cond->empty() ? "" : " AND ", Ident(rel.columns[i].name),
        Placeholder(static_cast<int>(params->size()), rel.columns[i]));
  }
  return !key.empty();
}

bool AffectedOne(const PgResult& res) {
  const char* n = PQcmdTuples(res.get());
  return n && n[0] == '1' && n[1] == '\0';
}

// An insert that found, once done, a tombstone for a key it inserted: a
// delete committed while it waited for the deleted row's key.  Applied
// again, the transaction's look finds the tombstone and resolves the
// conflict (insert_deleted).
Status DeletedMeanwhile(const std::string& table) {
  return Status::Retry(fmt::format(
      "a delete of a key inserted into {} committed while the insert waited "
      "for it",
      table));
}

}  // namespace

Status PgSink::ApplyInsert(const TxnCtx& t, const RelState& rs,
                           const model::Tuple& row, bool via_update) {
  const model::Relation& rel = *rs.rel;
  WALAPPLY_RETURN_IF_ERROR(LockInserts(rs));
  Params params;
  std::string names, values;
  std::vector<int> param_of(rel.columns.size(), 0);
  for (size_t i = 0; i < rel.columns.size(); i++) {
    if (Absent(row, static_cast<int>(i))) continue;
    params.push_back(ParamText(row.values(static_cast<int>(i))));
    param_of[i] = static_cast<int>(params.size());
    names += (names.empty() ? "" : ", ") + Ident(rel.columns[i].name);
    values +=
        (values.empty() ? "" : ", ") + Placeholder(param_of[i], rel.columns[i]);
  }

  // Fast path: no unique key taken and no tombstone for the key.
  if (!via_update) {
    std::string sql;
    if (rs.full_match) {
      sql =
          fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                      rs.qualified, names, values);
    } else {
      bool ok = true;
      for (int i : rs.key) ok &= param_of[i] > 0;
      std::string key = TombstoneKey(rel, rs.key, [&](int i) {
        return Placeholder(param_of[i], rel.columns[i]);
      });
      if (ok) {
        // And the key looked for again once inserted (tombstoned() has a
        // snapshot of its own): a delete of it may have committed while
        // the insert waited for it (see wal2proto.expect_not_deleted).
        sql = fmt::format(
            "WITH w AS (INSERT INTO {} ({}) SELECT {} WHERE NOT {} ON CONFLICT "
            "DO NOTHING RETURNING 1) SELECT count(*), "
            "wal2proto.tombstoned(count(*), {}, {}, ARRAY[{}]) FROM w",
            rs.qualified, names, values,
            TombstoneFor(rs.tomb_oid, rs.local_oid, key), rs.tomb_oid,
            rs.local_oid, key);
      }
    }
    if (!sql.empty()) {
      PgResult res;
      WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(sql, params, &res));
      if (rs.full_match && AffectedOne(res)) return Status::Ok();
      if (!rs.full_match && PQgetvalue(res.get(), 0, 0)[0] == '1') {
        if (PQgetvalue(res.get(), 0, 1)[0] == 't')
          return DeletedMeanwhile(rs.display);
        return Status::Ok();
      }
    }
  }

  // Slow path.  A local transaction may insert the key between the look-up
  // and the insert (read committed does not see it yet): the insert then
  // does nothing and the look-up runs again.
  stats_.slow_path++;
  for (int round = 0; round < 3; round++) {
    Local local, tomb;
    if (!rs.full_match)
      WALAPPLY_RETURN_IF_ERROR(FindRow(rs, rs.key, row, false, &local));
    ConflictList conflicts;
    if (local.found) {
      if (!local.own)
        conflicts.emplace_back(ConflictType::kInsertExists, local);
    } else if (!rs.full_match) {
      WALAPPLY_RETURN_IF_ERROR(FindTombstone(rs, row, &tomb));
      bool same = tomb.own || (tomb.origin_known && tomb.roident == origin_id_);
      if (tomb.found && !via_update && !same &&
          !RemoteWins(Policy::kLastUpdateWins, tomb.version, t.remote)) {
        conflicts.emplace_back(ConflictType::kInsertDeleted, tomb);
      }
    }
    std::vector<Local> others;
    WALAPPLY_RETURN_IF_ERROR(FindUniqueConflicts(rs, row, local, &others));
    for (const Local& o : others)
      conflicts.emplace_back(ConflictType::kInsertExists, o);
    bool apply = true;
    if (!conflicts.empty()) {
      WALAPPLY_RETURN_IF_ERROR(
          ResolveAll(t, rs, conflicts, &row, true, &apply));
    }
    if (!apply) {
      // The remote row lost to rows with other keys: it is gone as if
      // deleted, and its key remembers that, so that an older version of the
      // same key arriving later from a third node stays out too (as it does
      // on the nodes where this row existed and was deleted by the winner).
      if (!local.found && !others.empty()) {
        WALAPPLY_RETURN_IF_ERROR(TouchTombstone(rs, row));
      }
      return Status::Ok();
    }
    for (const Local& o : others) WALAPPLY_RETURN_IF_ERROR(DeleteRow(rs, o));
    if (local.found) return UpdateRow(rs, local, row);
    PgResult res;
    WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
        fmt::format("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
                    rs.qualified, names, values),
        params, &res));
    if (AffectedOne(res)) {
      if (tomb.found) WALAPPLY_RETURN_IF_ERROR(DropTombstone(rs, row));
      return Status::Ok();
    }
  }
  return Status::Retry(fmt::format(
      "an insert into {} kept meeting rows inserted concurrently on the target",
      rs.display));
}

Status PgSink::MatchesOld(const TxnCtx& t, const RelState& rs,
                          const Local& local, const model::Change& c,
                          bool* matches) {
  *matches = false;
  if (!HasOldTuple(c) ||
      rs.rel->replica_identity != pb::REPLICA_IDENTITY_FULL) {
    return Status::Ok();
  }
  // Equal values are the same version only if the local one is older than
  // the remote change (as last_update_wins orders them): two nodes may
  // write the same values, and a newer local write with the values of the
  // remote's old row is a concurrent change, not the one it replaced.
  if (!RemoteWins(Policy::kLastUpdateWins, local.version, t.remote))
    return Status::Ok();
  Local m;
  WALAPPLY_RETURN_IF_ERROR(
      FindRow(rs, MatchColumns(*rs.rel), OldTuple(c), true, &m));
  *matches = m.found && m.tableoid == local.tableoid && m.ctid == local.ctid;
  return Status::Ok();
}

Status PgSink::ApplyUpdate(const TxnCtx& t, const RelState& rs,
                           const model::Change& c) {
  const model::Relation& rel = *rs.rel;
  const model::Tuple& nw = NewTuple(c);
  const model::Tuple* old = HasOldTuple(c) ? &OldTuple(c) : nullptr;
  // The row to look for: the old key where one was sent, else the new one.
  model::Tuple merged;
  const model::Tuple* keyrow = &nw;
  bool key_changed = false;
  if (old) {
    merged = nw;
    for (int i = 0; i < old->values_size() && i < merged.values_size(); i++) {
      if (!Absent(*old, i)) *merged.mutable_values(i) = old->values(i);
    }
    keyrow = &merged;
    for (int k : rs.key) {
      if (!Absent(*old, k) && !Absent(nw, k) &&
          old->values(k).SerializeAsString() !=
              nw.values(k).SerializeAsString()) {
        key_changed = true;
      }
    }
  }

  // Fast path: the row was last written by this source (or this
  // transaction), the key stays and there is no other unique key to take.
  if (!rs.full_match && !key_changed && rs.uniques.empty()) {
    Params params;
    std::string cond;
    std::string set = SetClause(rel, rs.delta, nw, old, false, &params);
    if (!set.empty() && KeyCond(rel, rs.key, *keyrow, &params, &cond)) {
      PgResult res;
      WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
          fmt::format("UPDATE {} t SET {} WHERE {} AND {}", rs.qualified, set,
                      cond, SameOriginCond(origin_id_)),
          params, &res));
      if (AffectedOne(res)) return Status::Ok();
    }
  }

  stats_.slow_path++;
  // The row moves to a key that a newer delete arriving by another link
  // may find missing (see LockInserts).
  if (key_changed) WALAPPLY_RETURN_IF_ERROR(LockInserts(rs));
  Local local;
  auto find = [&]() {
    return rs.full_match
               ? FindRow(rs, MatchColumns(rel), *keyrow, true, &local)
               : FindRow(rs, rs.key, *keyrow, false, &local);
  };
  WALAPPLY_RETURN_IF_ERROR(find());
  if (!local.found) {
    // Missing, or inserted by another link's transaction not committed yet:
    // after those have ended, it is one or the other.
    bool waited = false;
    WALAPPLY_RETURN_IF_ERROR(AwaitInserts(rs, &waited));
    if (waited) WALAPPLY_RETURN_IF_ERROR(find());
  }
  if (!local.found) {
    Local tomb;
    WALAPPLY_RETURN_IF_ERROR(FindTombstone(rs, *keyrow, &tomb));
    ConflictType type = tomb.found ? ConflictType::kUpdateDeleted
                                   : ConflictType::kUpdateMissing;
    bool apply = false;
    WALAPPLY_RETURN_IF_ERROR(
        ResolveAll(t, rs, {{type, tomb}}, &nw, !HasUnchangedToast(nw), &apply));
    if (!apply) return Status::Ok();
    if (tomb.found) WALAPPLY_RETURN_IF_ERROR(DropTombstone(rs, *keyrow));
    return ApplyInsert(t, rs, nw, true);
  }
  ConflictList conflicts;
  if (!local.own && !(local.origin_known && local.roident == origin_id_)) {
    bool matches = false;
    WALAPPLY_RETURN_IF_ERROR(MatchesOld(t, rs, local, c, &matches));
    if (!matches)
      conflicts.emplace_back(ConflictType::kUpdateOriginDiffers, local);
  }
  std::vector<Local> others;
  WALAPPLY_RETURN_IF_ERROR(FindUniqueConflicts(rs, nw, local, &others));
  if (key_changed) {
    Local taken;
    WALAPPLY_RETURN_IF_ERROR(FindRow(rs, rs.key, nw, false, &taken));
    if (taken.found &&
        !(taken.tableoid == local.tableoid && taken.ctid == local.ctid)) {
      others.push_back(taken);
    }
  }
  for (const Local& o : others)
    conflicts.emplace_back(ConflictType::kUpdateExists, o);
  bool apply = true;
  if (!conflicts.empty()) {
    WALAPPLY_RETURN_IF_ERROR(ResolveAll(t, rs, conflicts, &nw, true, &apply));
  }
  if (!apply) {
    // Lost only to rows with other keys: where the update was made, its row
    // took the unique value, and the winner deletes it on every node that
    // sees the winner later; here it goes too, or the nodes would differ.
    if (others.size() == conflicts.size() && !others.empty()) {
      return DeleteRow(rs, local);
    }
    // Counter columns count every increment, whoever wins the row.
    if (rs.has_delta) return UpdateRow(rs, local, nw, old, true);
    return Status::Ok();
  }
  for (const Local& o : others) WALAPPLY_RETURN_IF_ERROR(DeleteRow(rs, o));
  return UpdateRow(rs, local, nw, old);
}

Status PgSink::ApplyDelete(const TxnCtx& t, const RelState& rs,
                           const model::Change& c) {
  const model::Relation& rel = *rs.rel;
  if (!HasOldTuple(c)) {
    return Status::Fatal(fmt::format(
        "a delete on table {} came without the old row's key", rs.display));
  }
  const model::Tuple& old = OldTuple(c);
  if (!rs.full_match) {
    Params params;
    std::string cond;
    if (KeyCond(rel, rs.key, old, &params, &cond)) {
      PgResult res;
      WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
          fmt::format("DELETE FROM {} t WHERE {} AND {}", rs.qualified, cond,
                      SameOriginCond(origin_id_)),
          params, &res));
      if (AffectedOne(res)) return Status::Ok();
    }
  }

  stats_.slow_path++;
  Local local;
  auto find = [&]() {
    return rs.full_match ? FindRow(rs, MatchColumns(rel), old, true, &local)
                         : FindRow(rs, rs.key, old, false, &local);
  };
  WALAPPLY_RETURN_IF_ERROR(find());
  if (!local.found) {
    // Missing, or inserted by another link's transaction not committed yet
    // (see LockInserts).
    bool waited = false;
    WALAPPLY_RETURN_IF_ERROR(AwaitInserts(rs, &waited));
    if (waited) WALAPPLY_RETURN_IF_ERROR(find());
  }
  if (!local.found) {
    Local tomb;
    WALAPPLY_RETURN_IF_ERROR(FindTombstone(rs, old, &tomb));
    if (tomb.found && tomb.own) return Status::Ok();  // deleted by this batch
    bool apply = false;
    WALAPPLY_RETURN_IF_ERROR(ResolveAll(
        t, rs, {{ConflictType::kDeleteMissing, tomb}}, &old, false, &apply));
    // Remember the newer delete, so that an older update arriving later from
    // a third node does not bring the row back.
    if (!tomb.found ||
        RemoteWins(Policy::kLastUpdateWins, tomb.version, t.remote)) {
      WALAPPLY_RETURN_IF_ERROR(TouchTombstone(rs, old));
    }
    return Status::Ok();
  }
  if (!local.own && !(local.origin_known && local.roident == origin_id_)) {
    bool matches = false;
    WALAPPLY_RETURN_IF_ERROR(MatchesOld(t, rs, local, c, &matches));
    if (!matches) {
      bool apply = false;
      WALAPPLY_RETURN_IF_ERROR(
          ResolveAll(t, rs, {{ConflictType::kDeleteOriginDiffers, local}}, &old,
                     true, &apply));
      if (!apply) return Status::Ok();
    }
  }
  return DeleteRow(rs, local);
}

// --- batches ----------------------------------------------------------------

bool PgSink::Batchable(const RelState& rs, const model::Change& c,
                       std::string* signature) const {
  const model::Relation& rel = *rs.rel;
  auto key_ok = [&](const model::Tuple& row) {
    for (int k : rs.key) {
      if (Absent(row, k) || IsNull(row, k)) return false;
    }
    return true;
  };
  switch (c.kind) {
    case model::ChangeKind::kInsert:
      break;
    case model::ChangeKind::kDelete:
      if (rs.full_match || !HasOldTuple(c) || !key_ok(OldTuple(c)))
        return false;
      return true;
    case model::ChangeKind::kUpdate:
      if (rs.full_match || !rs.uniques.empty() || HasOldTuple(c) ||
          !key_ok(NewTuple(c))) {
        return false;
      }
      break;
    default:
      return false;
  }
  *signature = Signature(rel, NewTuple(c));
  return true;
}

Status PgSink::FlushBatch(const TxnCtx& t) {
  if (batch_.changes.empty()) return Status::Ok();
  std::vector<model::Change> changes = std::move(batch_.changes);
  const RelState& rs = *batch_.rs;
  model::ChangeKind kind = batch_.kind;
  std::string signature = batch_.signature;
  batch_ = Batch();
  if (changes.size() == 1) return ApplyRow(t, rs, changes[0]);
  if (kind == model::ChangeKind::kInsert)
    WALAPPLY_RETURN_IF_ERROR(LockInserts(rs));
  if (kind == model::ChangeKind::kInsert && changes.size() >= kMinCopyRows &&
      !copy_off_) {
    bool done = false;
    WALAPPLY_RETURN_IF_ERROR(CopyInserts(rs, signature, changes, &done));
    if (done) return Status::Ok();
  }

  const model::Relation& rel = *rs.rel;
  Params params;
  std::string rows, sql;
  auto add_row = [&](const model::Tuple& row, const std::vector<int>& cols) {
    rows += rows.empty() ? "(" : ", (";
    for (size_t j = 0; j < cols.size(); j++) {
      params.push_back(ParamText(row.values(cols[j])));
      rows += (j ? ", " : "") + Placeholder(static_cast<int>(params.size()),
                                            rel.columns[cols[j]]);
    }
    rows += ")";
  };
  // The rows of an update or delete run: unnest() of one array per column
  // (one parameter each, a statement text that does not depend on the
  // number of rows), or a VALUES list when a column is itself an array,
  // which unnest() would flatten.
  bool over_arrays = false;
  auto rows_from = [&](bool old_rows, const std::vector<int>& cols) {
    bool arrays = true;
    for (int i : cols) arrays &= Unnestable(rel.columns[i]);
    if (!arrays) {
      for (const auto& c : changes)
        add_row(old_rows ? OldTuple(c) : NewTuple(c), cols);
      return "(VALUES " + rows + ")";
    }
    over_arrays = true;
    std::string from = "unnest(";
    for (size_t j = 0; j < cols.size(); j++) {
      std::string literal;
      AppendArrayLiteral(
          ColumnValues(changes, 0, changes.size(), cols[j], old_rows),
          &literal);
      params.push_back(std::move(literal));
      from += fmt::format("{}${}::{}[]", j ? ", " : "", params.size(),
                          rel.columns[cols[j]].type_name);
    }
    return from + ")";
  };
  std::vector<int> cols;
  std::string names;
  if (kind != model::ChangeKind::kDelete) {
    for (size_t i = 0; i < rel.columns.size(); i++) {
      if (signature[i] != '1') continue;
      cols.push_back(static_cast<int>(i));
      names += (names.empty() ? "" : ", ") + Ident(rel.columns[i].name);
    }
  }
  if (kind == model::ChangeKind::kInsert) {
    for (const auto& c : changes) add_row(NewTuple(c), cols);
    if (rs.full_match) {
      sql = fmt::format("INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING",
                        rs.qualified, names, rows);
    } else {
      std::string key = TombstoneKey(rel, rs.key, [&](int i) {
        return "v." + Ident(rel.columns[i].name);
      });
      // And the keys looked for again once inserted (see ApplyInsert).
      std::string inserted_key = TombstoneKey(
          rel, rs.key, [&](int i) { return Ident(rel.columns[i].name); });
      sql = fmt::format(
          "WITH w AS (INSERT INTO {} ({}) SELECT * FROM (VALUES {}) v({}) "
          "WHERE NOT {} ON CONFLICT DO NOTHING RETURNING {} AS k) SELECT "
          "count(*), wal2proto.tombstoned(count(*), {}, {}, array_agg(k)) "
          "FROM w",
          rs.qualified, names, rows, names,
          TombstoneFor(rs.tomb_oid, rs.local_oid, key), inserted_key,
          rs.tomb_oid, rs.local_oid);
    }
  } else if (kind == model::ChangeKind::kDelete) {
    std::string knames, cond;
    for (size_t k = 0; k < rs.key.size(); k++) {
      const std::string& name = rel.columns[rs.key[k]].name;
      knames += (k ? ", " : "") + Ident(name);
      cond += fmt::format("{}t.{} = v.{}", k ? " AND " : "", Ident(name),
                          Ident(name));
    }
    sql = fmt::format("DELETE FROM {} t USING {} v({}) WHERE {} AND {}",
                      rs.qualified, rows_from(true, rs.key), knames, cond,
                      SameOriginCond(origin_id_));
  } else {
    std::vector<int> all = cols;
    std::string vnames = names, set, cond;
    for (int i : cols) {
      set +=
          fmt::format("{}{} = v.{}", set.empty() ? "" : ", ",
                      Ident(rel.columns[i].name), Ident(rel.columns[i].name));
    }
    for (size_t k = 0; k < rs.key.size(); k++) {
      all.push_back(rs.key[k]);
      vnames += fmt::format(", w2p_k{}", k);
      cond += fmt::format("{}t.{} = v.w2p_k{}", k ? " AND " : "",
                          Ident(rel.columns[rs.key[k]].name), k);
    }
    sql = fmt::format("UPDATE {} t SET {} FROM {} v({}) WHERE {} AND {}",
                      rs.qualified, set, rows_from(false, all), vnames, cond,
                      SameOriginCond(origin_id_));
  }
  // Statements over arrays are prepared, and so are full batches of VALUES;
  // other VALUES lists vary in length with the transactions, and each
  // prepared length would hold a plan on the server.
  PgResult res;
  if (over_arrays || changes.size() == kMaxBatchRows) {
    WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(sql, params, &res));
  } else {
    WALAPPLY_RETURN_IF_ERROR(conn_.ExecParams(sql, params, &res));
  }
  bool looked_again =
      kind == model::ChangeKind::kInsert && !rs.full_match;
  if (looked_again && PQgetvalue(res.get(), 0, 1)[0] == 't')
    return DeletedMeanwhile(rs.display);
  const char* n =
      looked_again ? PQgetvalue(res.get(), 0, 0) : PQcmdTuples(res.get());
  if (n && std::strtoul(n, nullptr, 10) == changes.size()) return Status::Ok();
  // Something met a conflict (or a row twice): one at a time, in order.
  for (const auto& c : changes) WALAPPLY_RETURN_IF_ERROR(ApplyRow(t, rs, c));
  return Status::Ok();
}

namespace {

// Rows per COPY statement.  The server pins the table's descriptor once per
// row it buffers, in a list whose cost grows with the square of its length
// (PostgreSQL 15's resource owner): 200 binary COPYs of 1000 rows cost it
// 0.63 s of CPU, 400 of 500 rows 0.51 s and 800 of 250 rows 0.48 s.  The
// data goes right behind the query (see PgConn::CopyQuery), so a COPY more
// costs no round trip; 125 rows measured no better than 250.
constexpr size_t kCopyPieceRows = 250;

}  // namespace

std::string PgSink::CopyCommand(const RelState& rs,
                                const std::string& signature,
                                const std::vector<model::Change>& changes,
                                std::vector<std::string>* pieces,
                                bool* binary_out) {
  const model::Relation& rel = *rs.rel;
  std::vector<int> cols;
  std::string names;
  bool binary = !binary_off_;
  for (size_t i = 0; i < rel.columns.size(); i++) {
    if (signature[i] != '1') continue;
    cols.push_back(static_cast<int>(i));
    names += (names.empty() ? "" : ", ") + Ident(rel.columns[i].name);
    binary &= rs.binary_oid[i] != 0;
  }
  size_t rows = 0;
  for (const auto& c : changes) rows += c.kind == model::ChangeKind::kInsert;
  size_t per_piece = rows;
  if (rows > kCopyPieceRows) {
    size_t n = (rows + kCopyPieceRows - 1) / kCopyPieceRows;
    per_piece = (rows + n - 1) / n;
  }
  // Calls add_row(row, data) for each insert, a new piece every per_piece
  // rows; false when add_row was.
  auto split = [&](const std::function<bool(const model::Tuple&,
                                            std::string*)>& add_row,
                   const std::function<void(std::string*)>& end_piece) {
    pieces->clear();
    size_t in_piece = 0;
    for (const auto& c : changes) {
      if (c.kind != model::ChangeKind::kInsert) continue;
      if (pieces->empty() || in_piece == per_piece) {
        size_t size_before = 0;
        if (!pieces->empty()) {
          end_piece(&pieces->back());
          size_before = pieces->back().size();
        }
        pieces->emplace_back();
        // A piece is about as large as the one before: no regrowing.
        pieces->back().reserve(size_before + size_before / 8);
        in_piece = 0;
      }
      if (!add_row(NewTuple(c), &pieces->back())) return false;
      in_piece++;
    }
    if (!pieces->empty()) end_piece(&pieces->back());
    return true;
  };
  if (binary) {
    binary = split(
        [&](const model::Tuple& row, std::string* data) {
          if (data->empty()) AppendBinaryHeader(data);
          AppendBinaryFieldCount(static_cast<int16_t>(cols.size()), data);
          for (int i : cols) {
            // A value with no binary form: text it is.
            if (!AppendBinaryField(rs.binary_oid[i], row.values(i), data))
              return false;
          }
          return true;
        },
        [](std::string* data) { AppendBinaryTrailer(data); });
  }
  if (!binary) {
    split(
        [&](const model::Tuple& row, std::string* data) {
          for (size_t j = 0; j < cols.size(); j++) {
            if (j) data->push_back('\t');
            AppendTextField(row.values(cols[j]), data);
          }
          data->push_back('\n');
          return true;
        },
        [](std::string*) {});
  }
  *binary_out = binary;
  return fmt::format("COPY {} ({}) FROM STDIN{}", rs.qualified, names,
                     binary ? " (FORMAT binary)" : "");
}

Status PgSink::CopyInserts(const RelState& rs, const std::string& signature,
                           const std::vector<model::Change>& changes,
                           bool* done) {
  *done = false;
  // An insert that meets a tombstone is a conflict (insert_deleted): such
  // relations take the INSERT path, which looks for tombstones row by row.
  // *found: whether a tombstone stands for one of the run's keys; false in
  // *can_look when a key column has no array form (the INSERT path looks).
  const model::Relation& rel = *rs.rel;
  auto look = [&](bool* found, bool* can_look) {
    *found = false;
    *can_look = true;
    if (rs.full_match) return Status::Ok();
    // First whether the relation has tombstones at all (one index probe;
    // the ORDER BY keeps the planner on the index when there are none),
    // then whether one of them has a key of this run.
    PgResult res;
    WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
        "SELECT count(*) FROM (SELECT 1 FROM wal2proto.tombstones WHERE "
        "relid = $1 ORDER BY relid, key LIMIT 1) s",
        {std::to_string(rs.tomb_oid)}, &res));
    if (PQgetvalue(res.get(), 0, 0)[0] == '0') return Status::Ok();
    Params params;
    std::string from, names;
    std::vector<int> key = KeyByName(rel, rs.key);
    for (size_t j = 0; j < key.size(); j++) {
      const model::Column& col = rel.columns[key[j]];
      if (!Unnestable(col)) {
        *can_look = false;
        return Status::Ok();
      }
      std::string literal;
      AppendArrayLiteral(
          ColumnValues(changes, 0, changes.size(), key[j], false), &literal);
      params.push_back(std::move(literal));
      from += fmt::format("{}${}::{}[]", j ? ", " : "", j + 1, col.type_name);
      names += fmt::format("{}k{}", j ? ", " : "", j);
    }
    std::string row = "ROW(" + names + ")::text";
    WALAPPLY_RETURN_IF_ERROR(conn_.ExecPrepared(
        fmt::format("SELECT count(*) FROM unnest({}) v({}) WHERE {}", from,
                    names, TombstoneFor(rs.tomb_oid, rs.local_oid, row)),
        params, &res));
    *found = PQgetvalue(res.get(), 0, 0)[0] != '0';
    return Status::Ok();
  };
  bool found = false, can_look = true;
  WALAPPLY_RETURN_IF_ERROR(look(&found, &can_look));
  if (found || !can_look) return Status::Ok();
  std::vector<std::string> pieces;
  bool binary = false;
  std::string copy = CopyCommand(rs, signature, changes, &pieces, &binary);
  Status st;
  for (const std::string& piece : pieces) {
    st = conn_.CopyIn(copy, piece);
    if (!st.ok()) break;
  }
  if (!st.ok()) {
    const std::string& state = conn_.last_sqlstate();
    if (state == "23505" || state == "23P01") {
      copy_failed_ = true;
    } else if (binary && (state == "22P03" || state == "08P01")) {
      // The target reads some binary value differently: text from now on.
      spdlog::warn("target {}: binary COPY into {} refused ({}); sending "
                   "text from now on",
                   name_, rs.display, st.message());
      binary_off_ = true;
      copy_failed_ = true;
    }
    return st;
  }
  // And again once copied (each statement has a snapshot of its own): a
  // delete may have committed while the COPY waited for it on the deleted
  // row's key (see wal2proto.expect_not_deleted).
  WALAPPLY_RETURN_IF_ERROR(look(&found, &can_look));
  if (found) return DeletedMeanwhile(rs.display);
  stats_.copied += changes.size();
  *done = true;
  return Status::Ok();
}

// --- pipelined transactions ------------------------------------------------

namespace {

// A transaction is sent whole, ahead of its results, only when its changes
// are few enough to keep until the results are read.
constexpr size_t kMaxPipelinedBytes = 8 << 20;
constexpr size_t kMaxPipelinedRun = 5000;

// Whether change `c` has a one-statement form that applies it exactly when
// no conflict is possible: *signature gets the columns that carry values.
bool Pipelinable(const model::Relation& rel, bool full_match,
                 const std::vector<int>& key, bool has_delta,
                 const model::Change& c, std::string* signature) {
  if (has_delta) return false;
  auto key_ok = [&](const model::Tuple& row) {
    for (int k : key) {
      if (Absent(row, k) || IsNull(row, k)) return false;
    }
    return true;
  };
  signature->clear();
  switch (c.kind) {
    case model::ChangeKind::kInsert:
      // (the look for tombstones after the insert takes the key's values)
      if (!full_match && !key_ok(NewTuple(c))) return false;
      break;
    case model::ChangeKind::kUpdate:
      if (full_match || HasOldTuple(c) || !key_ok(NewTuple(c))) return false;
      break;
    case model::ChangeKind::kDelete:
      if (full_match || !HasOldTuple(c) || !key_ok(OldTuple(c))) return false;
      for (int k : key) {
        if (!Unnestable(rel.columns[k])) return false;
      }
      return true;
    default:
      return false;
  }
  *signature = Signature(rel, NewTuple(c));
  for (size_t i = 0; i < rel.columns.size(); i++) {
    if ((*signature)[i] == '1' && !Unnestable(rel.columns[i])) return false;
  }
  return true;
}

}  // namespace

Status PgSink::BuildPipeline(const txn::Transaction& txn, Pipelined* out) {
  out->info = txn.info;
  out->queries.clear();
  out->locks.clear();
  if (!txn.changes->in_memory() ||
      txn.changes->memory_bytes() > kMaxPipelinedBytes) {
    return Status::Ok();
  }
  out->buffer = txn.changes;
  const std::vector<model::Change>& changes = out->changes();

  // A transaction that is one run of inserts into a table without
  // tombstones goes with COPY, which costs the target much less than an
  // INSERT; a guard makes the query fail before the COPY if the table has
  // tombstones after all.
  const model::Change* first = nullptr;
  size_t rows = 0;
  std::string signature;
  for (const auto& c : changes) {
    if (c.kind == model::ChangeKind::kMessage) continue;
    std::string sig;
    if (c.kind == model::ChangeKind::kInsert)
      sig = Signature(*RelationOf(c), NewTuple(c));
    if (c.kind != model::ChangeKind::kInsert ||
        (first && (RelationOf(c) != RelationOf(*first) || sig != signature))) {
      rows = 0;
      break;
    }
    if (!first) {
      first = &c;
      signature = sig;
    }
    rows++;
  }
  if (rows >= kMinCopyRows) {
    auto state = State(RelationOf(*first));
    if (!state.ok()) return state.status();
    const RelState& rs = **state;
    if (!rs.skip && !tombstoned_.count(rs.tomb_oid)) {
      bool binary = false;
      std::string copy =
          CopyCommand(rs, signature, changes, &out->copy_pieces, &binary);
      out->copy_sql = fmt::format(
          "BEGIN; SELECT pg_replication_origin_xact_setup('{}', '{}'); {}",
          out->info.end_lsn.ToString(), TimestampText(out->info.commit_time_us),
          rs.full_match ? ""
                        : fmt::format("SELECT wal2proto.expect_no_tombstones({}); ",
                                      rs.tomb_oid));
      for (size_t i = 0; i < out->copy_pieces.size(); i++)
        out->copy_sql += copy + "; ";
      // And again after the COPYs: a delete may have committed while a COPY
      // waited for it on the deleted row's key (see
      // wal2proto.expect_not_deleted).
      if (!rs.full_match) {
        out->copy_sql += fmt::format(
            "SELECT wal2proto.expect_no_tombstones({}); ", rs.tomb_oid);
      }
      out->copy_sql += "COMMIT";
      out->copy_oid = rs.tomb_oid;
      out->copy_rows = rows;
      return Status::Ok();
    }
  }

  std::vector<PipeQuery>& q = out->queries;
  // No BEGIN and COMMIT: the statements up to the pipeline's sync point are
  // one implicit transaction, which the sync point commits, or rolls back
  // as soon as a statement fails (its locks go at once, not when walapply
  // has read the failure).
  // (Apply() checks the progress first when it sends it behind another.)
  q.push_back({"SELECT pg_replication_origin_xact_setup($1, $2)",
               {out->info.end_lsn.ToString(),
                TimestampText(out->info.commit_time_us)},
               {},
               true});
  const model::Relation* run_rel = nullptr;  // the run being gathered
  const RelState* run_rs = nullptr;
  model::ChangeKind run_kind = model::ChangeKind::kInsert;
  std::string run_signature;
  size_t run_begin = 0;
  std::set<uint32_t> inserted;  // relations inserted into (see LockInserts)
  auto end_run = [&](size_t end) {
    if (run_rel) BuildRun(*run_rs, changes, run_begin, end, run_signature, &q);
    if (run_rel && run_kind == model::ChangeKind::kInsert &&
        !run_rs->full_match) {
      inserted.insert(run_rs->tomb_oid);
    }
    run_rel = nullptr;
  };
  auto give_up = [&]() {
    q.clear();
    return Status::Ok();
  };
  for (size_t i = 0; i < changes.size(); i++) {
    const model::Change& c = changes[i];
    if (c.kind == model::ChangeKind::kMessage) {
      end_run(i);
      continue;
    }
    if (c.kind == model::ChangeKind::kTruncate) return give_up();
    const model::Relation* rel = RelationOf(c).get();
    const RelState* rs = run_rs;
    if (rel != run_rel) {
      // State() may settle the transaction in flight, which may drop the
      // relation states: the run ends before.
      end_run(i);
      auto state = State(RelationOf(c));
      if (!state.ok()) return state.status();
      rs = *state;
    }
    if (rs->skip) {
      end_run(i);
      continue;
    }
    std::string signature;
    if (!Pipelinable(*rs->rel, rs->full_match, rs->key, rs->has_delta, c,
                     &signature)) {
      return give_up();
    }
    if (run_rel && (c.kind != run_kind || signature != run_signature ||
                    i - run_begin >= kMaxPipelinedRun)) {
      end_run(i);
    }
    if (!run_rel) {
      run_rel = rel;
      run_rs = rs;
      run_kind = c.kind;
      run_signature = signature;
      run_begin = i;
    }
  }
  end_run(changes.size());
  // Nothing to write (every change skipped): not sent, for a transaction
  // sent behind it would find the origin's progress short of its end.
  if (q.size() == 1) {
    q.clear();
    return Status::Ok();
  }
  // The insert locks go with the origin set-up: the inserts' looks for
  // tombstones run after them, at no cost of a statement.
  for (uint32_t oid : inserted)
    out->locks += fmt::format(", wal2proto.lock_inserts({})", oid);
  q[0].sql += out->locks;
  return Status::Ok();
}

void PgSink::BuildRun(const RelState& rs,
                      const std::vector<model::Change>& changes, size_t begin,
                      size_t end, const std::string& signature,
                      std::vector<PipeQuery>* out) {
  const model::Relation& rel = *rs.rel;
  model::ChangeKind kind = changes[begin].kind;
  PipeQuery q;
  // One array parameter per column: binary when its type has a binary form
  // here, text otherwise.
  auto array = [&](int col, bool old_rows) {
    std::vector<const model::Value*> values =
        ColumnValues(changes, begin, end, col, old_rows);
    std::string bytes;
    bool binary = !binary_off_ && rs.binary_oid[col] != 0 &&
                  AppendBinaryArray(rs.binary_oid[col], values, &bytes);
    if (!binary) AppendArrayLiteral(values, &bytes);
    q.params.push_back(std::move(bytes));
    q.binary.push_back(binary);
    return fmt::format("${}::{}[]", q.params.size(),
                       rel.columns[col].type_name);
  };
  std::string dml;
  std::vector<int> cols;
  std::string names;
  for (size_t i = 0; i < rel.columns.size() && !signature.empty(); i++) {
    if (signature[i] != '1') continue;
    cols.push_back(static_cast<int>(i));
    names += (names.empty() ? "" : ", ") + Ident(rel.columns[i].name);
  }
  if (kind == model::ChangeKind::kInsert) {
    std::string arrays;
    for (int i : cols) arrays += (arrays.empty() ? "" : ", ") + array(i, false);
    // (The rows are looked for in the tombstones once inserted, by the
    // statement after this one.)
    dml = fmt::format(
        "INSERT INTO {} ({}) SELECT * FROM unnest({}) v({}) RETURNING 1",
        rs.qualified, names, arrays, names);
  } else if (kind == model::ChangeKind::kDelete) {
    std::string arrays, knames, cond;
    for (size_t k = 0; k < rs.key.size(); k++) {
      const std::string& name = rel.columns[rs.key[k]].name;
      arrays += (k ? ", " : "") + array(rs.key[k], true);
      knames += (k ? ", " : "") + Ident(name);
      cond += fmt::format("{}t.{} = v.{}", k ? " AND " : "", Ident(name),
                          Ident(name));
    }
    dml = fmt::format(
        "DELETE FROM {} t USING unnest({}) v({}) WHERE {} AND {} RETURNING 1",
        rs.qualified, arrays, knames, cond, SameOriginCond(origin_id_));
  } else {
    std::string arrays, vnames = names, set, cond;
    for (int i : cols) {
      arrays += (arrays.empty() ? "" : ", ") + array(i, false);
      set +=
          fmt::format("{}{} = v.{}", set.empty() ? "" : ", ",
                      Ident(rel.columns[i].name), Ident(rel.columns[i].name));
    }
    for (size_t k = 0; k < rs.key.size(); k++) {
      arrays += ", " + array(rs.key[k], false);
      vnames += fmt::format(", w2p_k{}", k);
      cond += fmt::format("{}t.{} = v.w2p_k{}", k ? " AND " : "",
                          Ident(rel.columns[rs.key[k]].name), k);
    }
    dml = fmt::format(
        "UPDATE {} t SET {} FROM unnest({}) v({}) WHERE {} AND {} RETURNING 1",
        rs.qualified, set, arrays, vnames, cond, SameOriginCond(origin_id_));
  }
  // The statement's text depends on the run's shape only (table, kind,
  // columns), so it is prepared once.
  q.params.push_back(std::to_string(end - begin));
  q.binary.push_back(false);
  q.sql = fmt::format(
      "WITH w AS ({}) SELECT wal2proto.expect_rows(count(*), ${}::int8) FROM "
      "w",
      dml, q.params.size());
  q.prepared = true;
  if (kind != model::ChangeKind::kInsert || rs.full_match) {
    out->push_back(std::move(q));
    return;
  }
  // The inserted rows looked for in the tombstones, by a statement with a
  // snapshot of its own, which also sees a delete of one of their keys that
  // committed while the insert waited for it (see
  // wal2proto.expect_not_deleted).  First whether the relation has
  // tombstones at all (one probe), then each row.  Scalar subqueries, not
  // EXISTS: in EXISTS the planner would drop the ORDER BY that keeps it on
  // the index, and might hash every tombstone of the relation for the
  // per-row test.
  PipeQuery check;
  std::string arrays, knames;
  for (int k : rs.key) {
    size_t j = std::find(cols.begin(), cols.end(), k) - cols.begin();
    check.params.push_back(q.params[j]);
    check.binary.push_back(q.binary[j]);
    arrays += fmt::format("{}${}::{}[]", arrays.empty() ? "" : ", ",
                          check.params.size(), rel.columns[k].type_name);
    knames += (knames.empty() ? "" : ", ") + Ident(rel.columns[k].name);
  }
  check.sql = fmt::format(
      "SELECT wal2proto.expect_not_deleted(count(*)) FROM unnest({}) v({}) "
      "WHERE (SELECT 1 FROM wal2proto.tombstones WHERE relid = {} ORDER BY "
      "relid, key LIMIT 1) IS NOT NULL AND {}",
      arrays, knames, rs.tomb_oid,
      TombstoneFor(rs.tomb_oid, rs.local_oid,
                   TombstoneKey(rel, rs.key, [&](int i) {
                     return "v." + Ident(rel.columns[i].name);
                   })));
  check.prepared = true;
  out->push_back(std::move(q));
  out->push_back(std::move(check));
}

Status PgSink::ApplyMessage(const model::Change& message) {
  // Logical messages have no table to go to on a peer.
  return Status::Ok();
}

Status PgSink::Flush() {
  WALAPPLY_RETURN_IF_ERROR(Settle());
  if (!unflushed_) return Status::Ok();
  if (!conn_.connected()) {
    // Connect() reads (and flushes) the origin's progress.  A target that is
    // still away confirms nothing more; the next Apply() reconnects.
    Status st = Connect();
    if (!st.ok()) {
      spdlog::warn("target {}: {}; durable position stays {}", name_,
                   st.message(), durable_end_.ToString());
      return Status::Ok();
    }
  } else {
    PgResult res;
    WALAPPLY_RETURN_IF_ERROR(
        conn_.ExecPrepared("SELECT coalesce(pg_replication_origin_progress($1, "
                           "true), '0/0')::text",
                           {config_.OriginName()}, &res));
    auto lsn = Lsn::Parse(PQgetvalue(res.get(), 0, 0));
    if (lsn && *lsn > durable_end_) durable_end_ = *lsn;
  }
  if (durable_end_ >= applied_end_) unflushed_ = false;
  return Status::Ok();
}

Status PgSink::MarkPosition(model::Lsn lsn) {
  WALAPPLY_RETURN_IF_ERROR(Settle());
  if (lsn <= applied_end_ || unflushed_ || !conn_.connected())
    return Status::Ok();
  // An xid makes the commit record that carries the origin's progress.
  Status st = conn_.Exec(
      fmt::format("BEGIN; SET LOCAL synchronous_commit = on; "
                  "SELECT pg_replication_origin_xact_setup('{}', now()); "
                  "SELECT pg_current_xact_id(); COMMIT",
                  lsn.ToString()));
  if (!st.ok()) {
    if (conn_.connected())
      conn_.Exec("ROLLBACK").IgnoreError();  // reported below
    spdlog::warn("target {}: could not record idle position {}: {}", name_,
                 lsn.ToString(), st.message());
    return Status::Ok();
  }
  applied_end_ = lsn;
  durable_end_ = lsn;
  return Status::Ok();
}

Status PgSink::Close() {
  courier_.Wait();  // settled by Flush(), or dropped with the connection
  Status st = conn_.connected() ? Flush() : Status::Ok();
  // Unread only if the connection is gone.
  pending_.clear();
  copies_.clear();
  copy_bytes_ = 0;
  courier_halted_ = false;
  spdlog::info(
      "target {}: {} transactions ({} pipelined, {} of them applied again "
      "row by row, {} of those sent behind one that failed), {} changes ({} "
      "inserts by COPY, {} transactions applied again without COPY), {} on "
      "the slow path, {} conflicts",
      name_, stats_.transactions, stats_.pipelined, stats_.pipeline_retries,
      stats_.behind_failure,
      stats_.changes, stats_.copied, stats_.copy_retries, stats_.slow_path,
      stats_.conflicts);
  conn_.Disconnect();
  return st;
}

}  // namespace walapply::sink::postgres
