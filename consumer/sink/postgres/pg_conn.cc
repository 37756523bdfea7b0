// pg_conn.cc
//    RAII wrappers for libpq connections and results.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/pg_conn.h"

#include <arpa/inet.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace walapply::sink::postgres {

namespace {

std::string OneLine(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

void ToPointers(const Params& params, std::vector<const char*>* out) {
  out->clear();
  out->reserve(params.size());
  for (const auto& p : params) out->push_back(p ? p->c_str() : nullptr);
}

// Server notices (an extension that already exists, ...) go to the debug
// log rather than straight to stderr.
void OnNotice(void*, const char* message) {
  spdlog::debug("target: {}", OneLine(message));
}

}  // namespace

Status PgConn::Connect(const std::string& conninfo) {
  prepared_.clear();
  pipelines_.clear();
  conn_.reset(PQconnectdb(conninfo.c_str()));
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string msg =
        conn_ ? OneLine(PQerrorMessage(conn_.get())) : "out of memory";
    conn_.reset();
    return Status::Retry(
        fmt::format("could not connect to the target: {}", msg));
  }
  PQsetNoticeProcessor(conn_.get(), OnNotice, nullptr);
  return Status::Ok();
}

void PgConn::Disconnect() {
  conn_.reset();
  prepared_.clear();
  pipelines_.clear();
}

bool PgConn::connected() const {
  return conn_ && PQstatus(conn_.get()) == CONNECTION_OK;
}

Status PgConn::Check(PGresult* raw, const std::string& what, PgResult* out) {
  PgResult res(raw);
  last_sqlstate_.clear();
  ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    if (out) *out = std::move(res);
    return Status::Ok();
  }
  const char* state =
      res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
  last_sqlstate_ = state ? state : "";
  std::string msg = res ? OneLine(PQresultErrorMessage(res.get())) : "";
  if (msg.empty()) msg = OneLine(PQerrorMessage(conn_.get()));
  // A unique violation is retried too: a local transaction can take a key
  // between the sink's look-up and its write.
  std::string full = fmt::format("target: {} failed: {}", what, msg);
  if (!connected() || last_sqlstate_ == "40P01" || last_sqlstate_ == "40001" ||
      last_sqlstate_ == "23505" || last_sqlstate_.rfind("08", 0) == 0 ||
      last_sqlstate_ == "57P01") {
    return Status::Retry(full);
  }
  return Status::Fatal(full);
}

Status PgConn::Exec(const std::string& sql, PgResult* out) {
  if (!conn_) return Status::Retry("target: not connected");
  return Check(PQexec(conn_.get(), sql.c_str()), sql.substr(0, 60), out);
}

Status PgConn::ExecParams(const std::string& sql, const Params& params,
                          PgResult* out) {
  if (!conn_) return Status::Retry("target: not connected");
  std::vector<const char*> values;
  ToPointers(params, &values);
  return Check(
      PQexecParams(conn_.get(), sql.c_str(), static_cast<int>(values.size()),
                   nullptr, values.data(), nullptr, nullptr, 0),
      sql.substr(0, 60), out);
}

Status PgConn::ExecPrepared(const std::string& sql, const Params& params,
                            PgResult* out) {
  if (!conn_) return Status::Retry("target: not connected");
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = fmt::format("w2p_{}", ++statements_named_);
    WALAPPLY_RETURN_IF_ERROR(
        Check(PQprepare(conn_.get(), name.c_str(), sql.c_str(), 0, nullptr),
              "prepare " + sql.substr(0, 60), nullptr));
    it = prepared_.emplace(sql, name).first;
  }
  std::vector<const char*> values;
  ToPointers(params, &values);
  return Check(PQexecPrepared(conn_.get(), it->second.c_str(),
                              static_cast<int>(values.size()), values.data(),
                              nullptr, nullptr, 0),
               sql.substr(0, 60), out);
}

Status PgConn::Lost(const char* what) {
  return Status::Retry(fmt::format("target: {}: {}", what,
                                   OneLine(PQerrorMessage(conn_.get()))));
}

bool PgConn::SendCopyData(const std::string& data) {
  // The data goes in pieces of 1 MB: a failed COPY then stops early.
  constexpr size_t kPiece = 1 << 20;
  for (size_t at = 0; at < data.size(); at += kPiece) {
    size_t n = std::min(kPiece, data.size() - at);
    if (PQputCopyData(conn_.get(), data.data() + at, static_cast<int>(n)) != 1)
      return false;
  }
  return PQputCopyEnd(conn_.get(), nullptr) == 1 && PQflush(conn_.get()) == 0;
}

bool PgConn::WriteCopiesAhead(const std::vector<const std::string*>& pieces,
                              std::string* error) {
  // The protocol's frames: a type byte and a length (itself included, in
  // network order), then the body.
  constexpr size_t kPiece = 1 << 20;
  std::vector<std::array<char, 5>> headers;
  for (const std::string* piece : pieces) {
    auto frame = [&](char type, size_t body) {
      std::array<char, 5> h;
      h[0] = type;
      uint32_t len = htonl(static_cast<uint32_t>(body + 4));
      std::memcpy(h.data() + 1, &len, 4);
      headers.push_back(h);
    };
    for (size_t at = 0; at < piece->size(); at += kPiece)
      frame('d', std::min(kPiece, piece->size() - at));
    frame('c', 0);
  }
  std::vector<iovec> iov;
  size_t h = 0;
  for (const std::string* piece : pieces) {
    for (size_t at = 0; at < piece->size(); at += kPiece) {
      iov.push_back({headers[h++].data(), 5});
      iov.push_back({const_cast<char*>(piece->data() + at),
                     std::min(kPiece, piece->size() - at)});
    }
    iov.push_back({headers[h++].data(), 5});
  }
  int fd = PQsocket(conn_.get());
  size_t first = 0;
  while (first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = std::min<size_t>(iov.size() - first, IOV_MAX);
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // libpq keeps its socket non-blocking: wait until it takes more.
        pollfd p{fd, POLLOUT, 0};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) {
          *error = std::strerror(errno);
          return false;
        }
        continue;
      }
      *error = std::strerror(errno);
      return false;
    }
    for (size_t left = static_cast<size_t>(n); left > 0;) {
      if (left >= iov[first].iov_len) {
        left -= iov[first].iov_len;
        first++;
      } else {
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
        iov[first].iov_len -= left;
        left = 0;
      }
    }
    while (first < iov.size() && iov[first].iov_len == 0) first++;
  }
  return true;
}

Status PgConn::CopyIn(const std::string& sql, const std::string& data) {
  if (!conn_) return Status::Retry("target: not connected");
  PgResult start(PQexec(conn_.get(), sql.c_str()));
  if (!start || PQresultStatus(start.get()) != PGRES_COPY_IN)
    return Check(start.release(), sql.substr(0, 60), nullptr);
  SendCopyData(data);  // a failure shows in the result
  // The command's result, then the end of results.
  Status st = Check(PQgetResult(conn_.get()), sql.substr(0, 60), nullptr);
  while (PGresult* rest = PQgetResult(conn_.get())) PQclear(rest);
  return st;
}

Status PgConn::SendPipeline(const std::vector<PipeQuery>& queries) {
  if (!conn_) return Status::Retry("target: not connected");
  PGconn* c = conn_.get();
  if (pipelines_.empty() && PQenterPipelineMode(c) != 1)
    return Lost("entering pipeline mode failed");
  Pipeline pipe;
  // A statement prepared by a pipeline in flight is known by its name
  // already: if that pipeline fails, so does every later one.
  auto pending_name = [&](const std::string& sql) -> const std::string* {
    for (const Pipeline& in_flight : pipelines_) {
      for (const auto& p : in_flight.prepares)
        if (p.sql == sql) return &p.name;
    }
    for (const auto& p : pipe.prepares)
      if (p.sql == sql) return &p.name;
    return nullptr;
  };
  std::vector<const char*> values;
  std::vector<int> lengths, formats;
  for (const PipeQuery& q : queries) {
    values.clear();
    lengths.clear();
    formats.clear();
    for (size_t i = 0; i < q.params.size(); i++) {
      const auto& p = q.params[i];
      values.push_back(p ? p->data() : nullptr);
      lengths.push_back(p ? static_cast<int>(p->size()) : 0);
      formats.push_back(i < q.binary.size() && q.binary[i] ? 1 : 0);
    }
    int n = static_cast<int>(values.size());
    if (!q.prepared) {
      if (PQsendQueryParams(c, q.sql.c_str(), n, nullptr, values.data(),
                            lengths.data(), formats.data(), 0) != 1) {
        return Lost("sending a pipelined query failed");
      }
      pipe.results++;
      continue;
    }
    std::string name;
    auto it = prepared_.find(q.sql);
    if (it != prepared_.end()) {
      name = it->second;
    } else if (const std::string* pending = pending_name(q.sql)) {
      name = *pending;
    } else {
      // Known as prepared once its result says so (a pipeline that fails
      // before it skips it).  Names are never used twice in a session: a
      // pipeline may prepare a statement (before its failing check) behind
      // one whose preparing was skipped.
      name = fmt::format("w2p_{}", ++statements_named_);
      if (PQsendPrepare(c, name.c_str(), q.sql.c_str(), n, nullptr) != 1)
        return Lost("preparing a pipelined query failed");
      pipe.prepares.push_back({pipe.results++, q.sql, name});
    }
    if (PQsendQueryPrepared(c, name.c_str(), n, values.data(), lengths.data(),
                            formats.data(), 0) != 1) {
      return Lost("sending a pipelined query failed");
    }
    pipe.results++;
  }
  if (PQpipelineSync(c) != 1 || PQflush(c) != 0)
    return Lost("sending a pipeline failed");
  pipelines_.push_back(std::move(pipe));
  return Status::Ok();
}

Status PgConn::ReadPipeline(bool* failed, std::string* error) {
  if (!conn_) return Status::Retry("target: not connected");
  if (pipelines_.empty()) return Status::Fatal("no pipeline in flight");
  PGconn* c = conn_.get();
  Pipeline pipe = std::move(pipelines_.front());
  pipelines_.pop_front();
  *failed = false;
  last_sqlstate_.clear();
  size_t next_prepare = 0;
  for (size_t i = 0; i < pipe.results; i++) {
    PgResult res(PQgetResult(c));
    if (!res) return Lost("the pipeline ended early");
    ExecStatusType st = PQresultStatus(res.get());
    if (next_prepare < pipe.prepares.size() &&
        pipe.prepares[next_prepare].index == i) {
      if (st == PGRES_COMMAND_OK) {
        prepared_.emplace(pipe.prepares[next_prepare].sql,
                          pipe.prepares[next_prepare].name);
      }
      next_prepare++;
    }
    if (st == PGRES_FATAL_ERROR && !*failed) {
      *failed = true;
      const char* state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
      last_sqlstate_ = state ? state : "";
      *error = OneLine(PQresultErrorMessage(res.get()));
    } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
               st != PGRES_PIPELINE_ABORTED && st != PGRES_FATAL_ERROR) {
      return Lost("unexpected result in the pipeline");
    }
    // Each query's results end with a null.
    while (PGresult* more = PQgetResult(c)) PQclear(more);
  }
  PgResult sync(PQgetResult(c));
  if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC)
    return Lost("the pipeline's sync point is missing");
  if (pipelines_.empty() && PQexitPipelineMode(c) != 1)
    return Lost("leaving pipeline mode");
  if (!connected()) return Lost("connection lost");
  return Status::Ok();
}

namespace {

// Keeps the first error of a sequence of results.
void NoteError(PGresult* res, bool* failed, std::string* error,
               std::string* sqlstate) {
  if (*failed) return;
  *failed = true;
  const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  *sqlstate = state ? state : "";
  *error = OneLine(PQresultErrorMessage(res));
}

}  // namespace

Status PgConn::CopyQuery(const std::string& sql,
                         const std::vector<const std::string*>& pieces,
                         CopyOutcome* out) {
  if (!conn_) return Status::Retry("target: not connected");
  PGconn* c = conn_.get();
  *out = CopyOutcome();
  last_sqlstate_.clear();
  bool ahead = !PQsslInUse(c) && !PQgssEncInUse(c);
  if (PQsendQuery(c, sql.c_str()) != 1) return Lost("sending a COPY query");
  if (ahead) {
    std::string error;
    if (PQflush(c) != 0) return Lost("sending a COPY query");
    if (!WriteCopiesAhead(pieces, &error))
      return Status::Retry("target: sending COPY data: " + error);
  }
  while (PGresult* raw = PQgetResult(c)) {
    PgResult res(raw);
    ExecStatusType st = PQresultStatus(res.get());
    if (st == PGRES_COPY_IN && ahead && out->copies < pieces.size()) {
      // Its data is on the way already; libpq's CopyDone follows it.
      out->copies++;
      if (PQputCopyEnd(c, nullptr) != 1 || PQflush(c) != 0)
        return Lost("ending COPY data");
    } else if (st == PGRES_COPY_IN) {
      if (out->copies == pieces.size()) {
        // More COPYs than pieces: the caller's mistake, not the server's.
        if (PQputCopyEnd(c, "walapply: no data for this COPY") != 1)
          return Lost("ending COPY data");
        continue;
      }
      if (!SendCopyData(*pieces[out->copies++]))
        return Lost("sending COPY data");
    } else if (st == PGRES_FATAL_ERROR) {
      NoteError(res.get(), &out->failed, &out->error, &out->sqlstate);
      last_sqlstate_ = out->sqlstate;
    } else if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (std::strcmp(PQcmdStatus(res.get()), "COMMIT") == 0) out->commits++;
    } else {
      return Status::Retry(fmt::format(
          "target: unexpected result {} of a COPY query", PQresStatus(st)));
    }
  }
  if (!connected()) return Lost("connection lost");
  return Status::Ok();
}

}  // namespace walapply::sink::postgres
