// replication.cc
//    A libpq replication connection speaking the streaming protocol.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// CopyData layouts (network byte order), from the streaming replication
// protocol:
//   XLogData      'w' u64 dataStart  u64 walEnd  i64 sendTime  payload...
//   keepalive     'k' u64 walEnd     i64 sendTime u8 replyRequested
//   status update 'r' u64 write u64 flush u64 apply i64 sendTime u8 reply
// Times are microseconds since 2000-01-01 00:00:00 UTC.

#include "stream/replication.h"

#include <fmt/format.h>
#include <sys/select.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

namespace walapply::stream {

namespace {

constexpr int64_t kPgEpochOffsetUs = 946684800LL * 1000000LL;

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
void PutU64(char* p, uint64_t v) {
  for (int i = 7; i >= 0; i--) {
    p[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
}

int64_t NowPgEpochUs() {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::microseconds>(now).count() -
         kPgEpochOffsetUs;
}

std::string Trim(const char* s) {
  std::string m = s ? s : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  // libpq messages may span lines; keep one line.
  for (char& c : m) {
    if (c == '\n') c = ' ';
  }
  return m;
}

bool RetryableSqlState(const std::string& state) {
  return state.rfind("08", 0) == 0 ||  // connection exceptions
         state == "55006" ||           // object in use: slot still active
         state == "57P01" || state == "57P02" || state == "57P03" ||
         state == "53300";  // too many connections
}

}  // namespace

std::string QuoteIdentifier(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::string QuoteLiteral(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  return out + "'";
}

ReplicationConnection::~ReplicationConnection() {
  if (copy_buffer_) PQfreemem(copy_buffer_);
  if (conn_) PQfinish(conn_);
}

Result<std::unique_ptr<ReplicationConnection>> ReplicationConnection::Connect(
    const std::string& conninfo) {
  const char* keys[] = {"dbname", "replication", "fallback_application_name",
                        nullptr};
  const char* values[] = {conninfo.c_str(), "database", "walapply", nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  std::unique_ptr<ReplicationConnection> rc(new ReplicationConnection(conn));
  if (conn == nullptr) return Status::Fatal("out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    return Status::Retry(fmt::format("could not connect to the source: {}",
                                     Trim(PQerrorMessage(conn))));
  }
  return rc;
}

Status ReplicationConnection::ConnectionError(const std::string& what) const {
  std::string msg = fmt::format("{}: {}", what, Trim(PQerrorMessage(conn_)));
  if (PQstatus(conn_) == CONNECTION_BAD) return Status::Retry(msg);
  return Status::Fatal(msg);
}

Status ReplicationConnection::ErrorFromResult(PGresult* res,
                                              const std::string& what) const {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg = fmt::format(
      "{}: {}", what,
      Trim(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_)));
  if (PQstatus(conn_) == CONNECTION_BAD ||
      (state && RetryableSqlState(state))) {
    return Status::Retry(msg);
  }
  return Status::Fatal(msg);
}

Result<SystemInfo> ReplicationConnection::IdentifySystem() {
  ResultPtr res(PQexec(conn_, "IDENTIFY_SYSTEM"));
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    return ErrorFromResult(res.get(), "IDENTIFY_SYSTEM failed");
  }
  if (PQntuples(res.get()) != 1 || PQnfields(res.get()) < 4) {
    return Status::Fatal("IDENTIFY_SYSTEM returned an unexpected shape");
  }
  SystemInfo info;
  info.system_id = PQgetvalue(res.get(), 0, 0);
  info.timeline = std::atoi(PQgetvalue(res.get(), 0, 1));
  auto lsn = model::Lsn::Parse(PQgetvalue(res.get(), 0, 2));
  if (!lsn) return Status::Fatal("IDENTIFY_SYSTEM returned a bad xlogpos");
  info.xlog_pos = *lsn;
  if (!PQgetisnull(res.get(), 0, 3)) info.dbname = PQgetvalue(res.get(), 0, 3);
  if (info.dbname.empty()) {
    return Status::Fatal(
        "the connection is not to a database (logical decoding needs one)");
  }
  return info;
}

Result<CreatedSlot> ReplicationConnection::CreateSlot(
    const std::string& slot, const std::string& plugin,
    const CreateSlotOptions& options) {
  std::string sql = "CREATE_REPLICATION_SLOT " + QuoteIdentifier(slot);
  if (options.temporary) sql += " TEMPORARY";
  sql += " LOGICAL " + QuoteIdentifier(plugin) + " (SNAPSHOT ";
  sql += options.export_snapshot ? "'export'" : "'nothing'";
  if (options.two_phase) sql += ", TWO_PHASE true";
  sql += ")";
  ResultPtr res(PQexec(conn_, sql.c_str()));
  CreatedSlot created;
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    const char* state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
    if (options.if_not_exists && state && std::strcmp(state, "42710") == 0) {
      created.existed = true;
      return created;
    }
    return ErrorFromResult(
        res.get(),
        fmt::format("could not create replication slot \"{}\"", slot));
  }
  auto lsn = model::Lsn::Parse(PQgetvalue(res.get(), 0, 1));
  if (lsn) created.consistent_point = *lsn;
  if (!PQgetisnull(res.get(), 0, 2))
    created.snapshot_name = PQgetvalue(res.get(), 0, 2);
  return created;
}

Status ReplicationConnection::DropSlot(const std::string& slot) {
  std::string sql = "DROP_REPLICATION_SLOT " + QuoteIdentifier(slot) + " WAIT";
  ResultPtr res(PQexec(conn_, sql.c_str()));
  if (PQresultStatus(res.get()) != PGRES_COMMAND_OK) {
    return ErrorFromResult(
        res.get(), fmt::format("could not drop replication slot \"{}\"", slot));
  }
  return Status::Ok();
}

Result<std::optional<SlotInfo>> ReplicationConnection::ReadSlot(
    const std::string& slot) {
  // Replication connections speak only the simple query protocol.
  std::string sql =
      "SELECT plugin, confirmed_flush_lsn::text, restart_lsn::text, two_phase "
      "FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
      QuoteLiteral(slot);
  ResultPtr res(PQexec(conn_, sql.c_str()));
  if (PQresultStatus(res.get()) != PGRES_TUPLES_OK) {
    return ErrorFromResult(
        res.get(), fmt::format("could not read replication slot \"{}\"", slot));
  }
  if (PQntuples(res.get()) == 0) return std::optional<SlotInfo>();
  SlotInfo info;
  info.plugin = PQgetvalue(res.get(), 0, 0);
  if (auto l = model::Lsn::Parse(PQgetvalue(res.get(), 0, 1)))
    info.confirmed_flush = *l;
  if (auto l = model::Lsn::Parse(PQgetvalue(res.get(), 0, 2)))
    info.restart_lsn = *l;
  info.two_phase = std::strcmp(PQgetvalue(res.get(), 0, 3), "t") == 0;
  return std::optional<SlotInfo>(info);
}

Status ReplicationConnection::StartReplication(
    const std::string& slot, model::Lsn start,
    const std::vector<std::pair<std::string, std::string>>& options) {
  std::string sql = "START_REPLICATION SLOT " + QuoteIdentifier(slot) +
                    " LOGICAL " + start.ToString();
  if (!options.empty()) {
    sql += " (";
    for (size_t i = 0; i < options.size(); i++) {
      if (i) sql += ", ";
      sql += QuoteIdentifier(options[i].first) + " " +
             QuoteLiteral(options[i].second);
    }
    sql += ")";
  }
  ResultPtr res(PQexec(conn_, sql.c_str()));
  if (PQresultStatus(res.get()) != PGRES_COPY_BOTH) {
    return ErrorFromResult(
        res.get(),
        fmt::format("could not start replication on slot \"{}\"", slot));
  }
  return Status::Ok();
}

bool ReplicationConnection::HasBufferedData() { return PQisBusy(conn_) == 0; }

Status ReplicationConnection::Read(int timeout_ms, CopyMessage* out) {
  out->type = CopyMessage::Type::kNone;
  if (copy_buffer_) {
    PQfreemem(copy_buffer_);
    copy_buffer_ = nullptr;
  }
  for (int attempt = 0; attempt < 2; attempt++) {
    int n = PQgetCopyData(conn_, &copy_buffer_, /*async=*/1);
    if (n == 0) {
      if (attempt == 1) return Status::Ok();  // nothing within the timeout
      int sock = PQsocket(conn_);
      if (sock < 0)
        return Status::Retry("replication connection lost: no socket");
      fd_set rfds;
      FD_ZERO(&rfds);
      FD_SET(sock, &rfds);
      struct timeval tv;
      tv.tv_sec = timeout_ms / 1000;
      tv.tv_usec = (timeout_ms % 1000) * 1000;
      int r = select(sock + 1, &rfds, nullptr, nullptr, &tv);
      if (r < 0) {
        if (errno == EINTR)
          return Status::Ok();  // a signal: let the caller look
        return Status::Retry(
            fmt::format("select() failed: {}", std::strerror(errno)));
      }
      if (r == 0) return Status::Ok();
      if (PQconsumeInput(conn_) == 0) {
        return ConnectionError("could not receive data from the source");
      }
      continue;
    }
    if (n == -1) {
      // The server ended the copy (shutdown, or our CopyDone answered).
      ResultPtr res(PQgetResult(conn_));
      if (PQresultStatus(res.get()) == PGRES_COMMAND_OK) {
        return Status::Retry("the source ended the replication stream");
      }
      return ErrorFromResult(res.get(), "replication stream ended");
    }
    if (n == -2) return ConnectionError("could not read COPY data");

    const char* p = copy_buffer_;
    if (p[0] == 'w') {
      if (n < 25) return Status::Fatal("streaming header too small");
      out->type = CopyMessage::Type::kXLogData;
      out->data_start = model::Lsn(GetU64(p + 1));
      out->wal_end = model::Lsn(GetU64(p + 9));
      out->payload = std::string_view(p + 25, n - 25);
      return Status::Ok();
    }
    if (p[0] == 'k') {
      if (n < 18) return Status::Fatal("keepalive message too small");
      out->type = CopyMessage::Type::kKeepalive;
      out->wal_end = model::Lsn(GetU64(p + 1));
      out->reply_requested = p[17] != 0;
      return Status::Ok();
    }
    return Status::Fatal(
        fmt::format("unrecognized streaming header: \"{}\"", p[0]));
  }
  return Status::Ok();
}

Status ReplicationConnection::SendStatus(model::Lsn write, model::Lsn flush,
                                         bool reply_requested) {
  char buf[1 + 8 * 4 + 1];
  buf[0] = 'r';
  PutU64(buf + 1, write.value());
  PutU64(buf + 9, flush.value());
  PutU64(buf + 17, flush.value());  // applied == flushed for us
  PutU64(buf + 25, static_cast<uint64_t>(NowPgEpochUs()));
  buf[33] = reply_requested ? 1 : 0;
  if (PQputCopyData(conn_, buf, sizeof(buf)) <= 0 || PQflush(conn_) != 0) {
    return ConnectionError("could not send a status update");
  }
  return Status::Ok();
}

Status ReplicationConnection::EndCopy() {
  if (PQputCopyEnd(conn_, nullptr) <= 0 || PQflush(conn_) != 0) {
    return ConnectionError("could not end the copy");
  }
  // Drain what the server still sends until it acknowledges.
  for (int i = 0; i < 1000; i++) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_, &buf, 0);
    if (buf) PQfreemem(buf);
    if (n == -1) break;
    if (n == -2) return ConnectionError("could not end the copy");
  }
  ResultPtr res(PQgetResult(conn_));
  while (res) res.reset(PQgetResult(conn_));
  return Status::Ok();
}

}  // namespace walapply::stream
