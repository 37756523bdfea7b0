// runner.cc
//    The walapply process: slot management and the streaming loop.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The loop follows pg_recvlogical: read CopyData asynchronously, wait on the
// socket no longer than the next status update is due, answer keepalives
// that ask for a reply at once.  Targets are synced as soon as the stream
// goes quiet (group commit) or every -F seconds, and the flush position
// sent to the source is only what every target has made durable
// (progress::Pipeline::Confirmable).  A lost connection is retried with an
// exponential backoff (0.5 s doubling up to 30 s); whatever was half
// received is dropped, because none of it was confirmed and the source
// sends it again.

#include "app/runner.h"

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>
#include <thread>

#include "progress/pipeline.h"
#include "stream/replication.h"

namespace walapply::app {

namespace {

using Clock = std::chrono::steady_clock;
using model::Lsn;

// How far the server's WAL must be past the confirmed position before an
// idle stream records its position in the targets (one line per this much
// WAL at most).
constexpr uint64_t kIdleAdvanceBytes = 1 << 20;

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reopen = 0;

void OnStopSignal(int) { g_stop = 1; }
void OnHangup(int) { g_reopen = 1; }

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// How one streaming session ended.
enum class SessionEnd { kStopped, kEndpos };

class Runner {
 public:
  explicit Runner(const Options& o) : o_(o) {}

  int Main();

 private:
  Result<std::unique_ptr<stream::ReplicationConnection>> Connect();
  Status CheckSlot(stream::ReplicationConnection* conn);
  Result<SessionEnd> Session(stream::ReplicationConnection* conn,
                             bool* received);
  Status SendStatus(stream::ReplicationConnection* conn, bool force);

  const Options& o_;
  std::unique_ptr<progress::Pipeline> pipeline_;
  Lsn write_lsn_;
  Lsn last_sent_flush_;
  Clock::time_point last_status_ = Clock::now() - std::chrono::hours(1);
};

Result<std::unique_ptr<stream::ReplicationConnection>> Runner::Connect() {
  auto conn = stream::ReplicationConnection::Connect(o_.dbname);
  if (!conn.ok()) return conn.status();
  auto sys = (*conn)->IdentifySystem();
  if (!sys.ok()) return sys.status();
  spdlog::info("connected: system {} timeline {} WAL at {} database \"{}\"",
               sys->system_id, sys->timeline, sys->xlog_pos.ToString(),
               sys->dbname);
  return conn;
}

Status Runner::CheckSlot(stream::ReplicationConnection* conn) {
  auto slot = conn->ReadSlot(o_.slot);
  if (!slot.ok()) return slot.status();
  if (!slot->has_value()) {
    return Status::Fatal(
        fmt::format("replication slot \"{}\" does not exist", o_.slot));
  }
  const stream::SlotInfo& info = **slot;
  if (info.plugin != "wal2proto") {
    return Status::Fatal(fmt::format(
        "replication slot \"{}\" uses plugin \"{}\"; walapply reads wal2proto",
        o_.slot, info.plugin));
  }
  // A slot confirmed past what a target holds has skipped transactions that
  // target never got: it was dropped and recreated, or another consumer
  // advanced it.  Refuse rather than leave a silent gap.
  for (const auto& s : pipeline_->sinks()) {
    Lsn held = s->DurableEndLsn();
    if (held.valid() && info.confirmed_flush > held) {
      return Status::Fatal(fmt::format(
          "replication slot \"{}\" is confirmed up to {} but target {} holds "
          "changes only up to {}: the slot was recreated or advanced by "
          "another consumer, and the transactions in between would be lost",
          o_.slot, info.confirmed_flush.ToString(), s->name(),
          held.ToString()));
    }
  }
  return Status::Ok();
}

Status Runner::SendStatus(stream::ReplicationConnection* conn, bool force) {
  Lsn flush = pipeline_->Confirmable();
  bool due = o_.status_interval_s > 0 &&
             SecondsSince(last_status_) >= o_.status_interval_s;
  bool advanced = flush > last_sent_flush_ && SecondsSince(last_status_) >= 1.0;
  if (!force && !due && !advanced) return Status::Ok();
  WALAPPLY_RETURN_IF_ERROR(
      conn->SendStatus(std::max(write_lsn_, flush), flush, false));
  if (flush != last_sent_flush_) {
    spdlog::debug("slot \"{}\": confirmed flush {} (received up to {})",
                  o_.slot, flush.ToString(), write_lsn_.ToString());
  }
  last_sent_flush_ = flush;
  last_status_ = Clock::now();
  return Status::Ok();
}

Result<SessionEnd> Runner::Session(stream::ReplicationConnection* conn,
                                   bool* received) {
  WALAPPLY_RETURN_IF_ERROR(CheckSlot(conn));
  Lsn start = o_.startpos.value_or(Lsn());
  std::vector<std::pair<std::string, std::string>> opts;
  bool has_version = false;
  for (const auto& kv : o_.plugin_options)
    has_version |= kv.first == "proto-version";
  if (!has_version) opts.emplace_back("proto-version", "1");
  opts.insert(opts.end(), o_.plugin_options.begin(), o_.plugin_options.end());
  WALAPPLY_RETURN_IF_ERROR(conn->StartReplication(o_.slot, start, opts));
  spdlog::info(
      "slot \"{}\": streaming from {} into {} target(s)", o_.slot,
      start.valid() ? start.ToString() : "the slot's confirmed position",
      pipeline_->sinks().size());

  auto last_flush = Clock::now();
  auto unflushed_since = Clock::now();
  bool had_unflushed = false;
  stream::CopyMessage msg;
  while (true) {
    if (g_reopen) {
      g_reopen = 0;
      spdlog::info("SIGHUP: reopening target files");
      WALAPPLY_RETURN_IF_ERROR(pipeline_->ReopenSinks());
    }
    if (pipeline_->endpos_reached() ||
        (g_stop && !pipeline_->InTransaction())) {
      WALAPPLY_RETURN_IF_ERROR(pipeline_->FlushSinks());
      WALAPPLY_RETURN_IF_ERROR(SendStatus(conn, true));
      conn->EndCopy().IgnoreError();  // the position is already confirmed
      return pipeline_->endpos_reached() ? SessionEnd::kEndpos
                                         : SessionEnd::kStopped;
    }

    WALAPPLY_RETURN_IF_ERROR(conn->Read(0, &msg));
    if (msg.type == stream::CopyMessage::Type::kNone) {
      // The stream is quiet: a good moment to sync and report.
      bool fsync_due = o_.fsync_interval_s == 0 ||
                       SecondsSince(last_flush) >= o_.fsync_interval_s;
      if (pipeline_->HasUnflushed() && fsync_due) {
        WALAPPLY_RETURN_IF_ERROR(pipeline_->FlushSinks());
        last_flush = Clock::now();
      }
      WALAPPLY_RETURN_IF_ERROR(SendStatus(conn, false));
      int timeout_ms = 1000;
      if (o_.status_interval_s > 0) {
        double left = o_.status_interval_s - SecondsSince(last_status_);
        timeout_ms = std::clamp(static_cast<int>(left * 1000), 10, 1000);
      }
      if (pipeline_->HasUnflushed() && o_.fsync_interval_s > 0) {
        double left = o_.fsync_interval_s - SecondsSince(last_flush);
        timeout_ms = std::clamp(static_cast<int>(left * 1000), 10, timeout_ms);
      }
      WALAPPLY_RETURN_IF_ERROR(conn->Read(timeout_ms, &msg));
    }

    if (msg.type == stream::CopyMessage::Type::kXLogData) {
      *received = true;
      if (msg.data_start > write_lsn_) write_lsn_ = msg.data_start;
      Status st = pipeline_->OnWrite(msg.payload, msg.data_start);
      if (!st.ok()) {
        return Status(st.retryable()
                          ? Status::Retry(st.message())
                          : Status::Fatal(fmt::format("slot \"{}\": {}",
                                                      o_.slot, st.message())));
      }
    } else if (msg.type == stream::CopyMessage::Type::kKeepalive) {
      pipeline_->OnServerPosition(msg.wal_end);
      if (msg.reply_requested && pipeline_->HasUnflushed() &&
          o_.fsync_interval_s == 0) {
        WALAPPLY_RETURN_IF_ERROR(pipeline_->FlushSinks());
        last_flush = Clock::now();
      }
      // With nothing pending, the server's WAL end is a position the targets
      // can record: otherwise WAL that carries nothing for them (other
      // databases, filtered tables) would be retained by the slot, and a
      // walsender asked to shut down would wait for a confirmation that
      // never comes.  Recorded when the server asks for a reply (at shutdown,
      // or after wal_sender_timeout/2 of silence) or once the WAL end is far
      // enough ahead.
      Lsn before = pipeline_->Confirmable();
      if ((msg.reply_requested ||
           msg.wal_end.value() >= before.value() + kIdleAdvanceBytes) &&
          !pipeline_->HasUnflushed()) {
        WALAPPLY_RETURN_IF_ERROR(pipeline_->MarkIdlePosition(msg.wal_end));
      }
      bool advanced = pipeline_->Confirmable() > before;
      if (advanced) {
        spdlog::debug(
            "slot \"{}\": idle at {}, the targets recorded the position",
            o_.slot, msg.wal_end.ToString());
      }
      if (msg.reply_requested || advanced) {
        WALAPPLY_RETURN_IF_ERROR(SendStatus(conn, true));
      }
    }

    // Under a continuous stream the quiet moment may not come: sync at least
    // every second (or -F) so confirmations keep up.
    if (pipeline_->HasUnflushed()) {
      if (!had_unflushed) unflushed_since = Clock::now();
      had_unflushed = true;
      double limit = o_.fsync_interval_s > 0 ? o_.fsync_interval_s : 1.0;
      if (SecondsSince(unflushed_since) >= limit &&
          SecondsSince(last_flush) >= limit) {
        WALAPPLY_RETURN_IF_ERROR(pipeline_->FlushSinks());
        last_flush = Clock::now();
        had_unflushed = false;
        WALAPPLY_RETURN_IF_ERROR(SendStatus(conn, false));
      }
    } else {
      had_unflushed = false;
    }
    if (o_.status_interval_s > 0 &&
        SecondsSince(last_status_) >= o_.status_interval_s) {
      WALAPPLY_RETURN_IF_ERROR(SendStatus(conn, false));
    }
  }
}

int Runner::Main() {
  // Targets first: a bad URI should fail before anything touches the source.
  std::vector<std::unique_ptr<sink::Sink>> sinks;
  if (o_.start) {
    for (const std::string& uri : o_.targets) {
      auto s = sink::MakeSink(uri);
      if (!s.ok()) {
        spdlog::error("{}", s.status().message());
        return 1;
      }
      sinks.push_back(std::move(s.value()));
    }
  }
  progress::PipelineOptions popts;
  popts.buffer.memory_limit_bytes = o_.txn_memory_mb << 20;
  popts.buffer.spill_dir = o_.spill_dir;
  popts.endpos = o_.endpos;
  pipeline_ = std::make_unique<progress::Pipeline>(std::move(sinks), popts);

  auto conn = Connect();
  if (!conn.ok()) {
    spdlog::error("{}", conn.status().message());
    return 1;
  }

  if (o_.drop_slot) {
    Status st = (*conn)->DropSlot(o_.slot);
    if (!st.ok()) {
      spdlog::error("{}", st.message());
      return 1;
    }
    spdlog::info("dropped replication slot \"{}\"", o_.slot);
    return 0;
  }

  if (o_.create_slot) {
    stream::CreateSlotOptions co;
    co.temporary = o_.temporary_slot;
    co.two_phase = o_.two_phase;
    co.export_snapshot = o_.export_snapshot;
    co.if_not_exists = o_.if_not_exists;
    auto created = (*conn)->CreateSlot(o_.slot, o_.plugin, co);
    if (!created.ok()) {
      spdlog::error("{}", created.status().message());
      return 1;
    }
    if (created->existed) {
      spdlog::info("replication slot \"{}\" already exists", o_.slot);
    } else {
      spdlog::info("created replication slot \"{}\" at {}", o_.slot,
                   created->consistent_point.ToString());
      if (!created->snapshot_name.empty()) {
        std::cout << "snapshot: " << created->snapshot_name << std::endl;
      }
    }
  }
  if (!o_.start) return 0;

  Status st = pipeline_->OpenSinks();
  if (!st.ok()) {
    spdlog::error("{}", st.message());
    return 1;
  }
  for (const auto& s : pipeline_->sinks()) {
    spdlog::info("target {} holds transactions up to commit {} (end {})",
                 s->name(), s->HeldCommitLsn().ToString(),
                 s->DurableEndLsn().ToString());
  }

  std::unique_ptr<stream::ReplicationConnection> c = std::move(conn.value());
  double backoff_s = 0.5;
  while (true) {
    bool received = false;
    Result<SessionEnd> end = Session(c.get(), &received);
    c.reset();
    if (end.ok()) {
      Status cs = pipeline_->CloseSinks();
      if (!cs.ok()) {
        spdlog::error("{}", cs.message());
        return 1;
      }
      const auto& stats = pipeline_->stats();
      struct rusage ru {};
      getrusage(RUSAGE_SELF, &ru);
      spdlog::info(
          "slot \"{}\": stopped{} at confirmed {}: {} transactions, {} "
          "changes, peak RSS {} kB",
          o_.slot, *end == SessionEnd::kEndpos ? " (endpos reached)" : "",
          last_sent_flush_.ToString(), stats.transactions, stats.changes,
          ru.ru_maxrss);
      return 0;
    }
    // Keep what was written: syncing it now only moves durability forward.
    Status fs = pipeline_->FlushSinks();
    pipeline_->ResetSession();
    if (!fs.ok()) {
      spdlog::error("{}", fs.message());
      return 1;
    }
    if (!end.status().retryable() || o_.no_loop) {
      spdlog::error("{}", end.status().message());
      return 1;
    }
    if (received) backoff_s = 0.5;
    while (true) {
      spdlog::warn("slot \"{}\": {}; reconnecting in {:.1f} s (confirmed {})",
                   o_.slot, end.status().message(), backoff_s,
                   last_sent_flush_.ToString());
      auto deadline = Clock::now() + std::chrono::duration<double>(backoff_s);
      while (Clock::now() < deadline && !g_stop) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      backoff_s = std::min(backoff_s * 2, 30.0);
      if (g_stop) {
        Status cs = pipeline_->CloseSinks();
        spdlog::info("slot \"{}\": stopped while reconnecting", o_.slot);
        return cs.ok() ? 0 : 1;
      }
      auto next = Connect();
      if (next.ok()) {
        c = std::move(next.value());
        break;
      }
      if (!next.status().retryable()) {
        spdlog::error("{}", next.status().message());
        return 1;
      }
      end = next.status();
    }
  }
}

}  // namespace

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a wait returns so the loop can look
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = OnHangup;
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int Run(const Options& options) {
  Runner runner(options);
  return runner.Main();
}

}  // namespace walapply::app
