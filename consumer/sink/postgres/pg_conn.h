// pg_conn.h
//    RAII wrappers for libpq connections and results, with prepared
//    statements cached by their text.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Params are text-format values (nullopt for NULL).  Every call returns a
// Status whose kind says whether retrying makes sense: a lost connection, a
// deadlock or a serialization failure is kRetry, anything else kFatal.  The
// SQLSTATE of the last error is kept for callers that care.
//
// Not thread-safe.

#pragma once

#include <libpq-fe.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/status.h"

namespace walapply::sink::postgres {

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct PgConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};

using Params = std::vector<std::optional<std::string>>;

// One query of a pipeline: its parameters in text format, or in binary
// format where `binary` says so (empty: all text).  A `prepared` query runs
// as a named prepared statement, prepared in the pipeline on first use (the
// server then plans it once rather than each time).
struct PipeQuery {
  std::string sql;
  Params params;
  std::vector<bool> binary;
  bool prepared = false;
};

class PgConn {
 public:
  PgConn() = default;
  PgConn(const PgConn&) = delete;
  PgConn& operator=(const PgConn&) = delete;

  Status Connect(const std::string& conninfo);
  void Disconnect();
  bool connected() const;

  // Runs SQL without parameters (several statements allowed).
  Status Exec(const std::string& sql, PgResult* out = nullptr);
  // Runs SQL with text parameters, unprepared.
  Status ExecParams(const std::string& sql, const Params& params,
                    PgResult* out = nullptr);
  // Runs SQL through a prepared statement, prepared on first use.
  Status ExecPrepared(const std::string& sql, const Params& params,
                      PgResult* out = nullptr);

  // Runs COPY ... FROM STDIN and sends `data`, in COPY's format, as its
  // input; the result is the command's.
  Status CopyIn(const std::string& sql, const std::string& data);

  // Sends `queries` in pipeline mode, then a sync point, without waiting
  // for their results; several such pipelines may be in flight.  Nothing
  // else may be sent before ReadPipeline has read them all.
  Status SendPipeline(const std::vector<PipeQuery>& queries);
  // Reads the results of the oldest pipeline in flight, and leaves
  // pipeline mode after the last.  *failed tells whether a query failed (its
  // error in *error, its SQLSTATE in last_sqlstate(); the queries after it
  // were skipped).  Returns an error only when the connection is lost.
  Status ReadPipeline(bool* failed, std::string* error);

  // What a query of COPY transactions came to.
  struct CopyOutcome {
    bool failed = false;  // a statement failed; the statements after it
                          // did not run
    std::string error;    // its message
    std::string sqlstate;
    size_t copies = 0;    // COPYs started by then
    size_t commits = 0;   // COMMITs that succeeded by then
  };
  // Runs `sql`, a simple query of several statements of which some are
  // COPY ... FROM STDIN, and sends *pieces[i], in COPY's format, as the
  // input of the i-th COPY; reads every result into *out (a failure's
  // SQLSTATE also in last_sqlstate()).  Returns an error only when the
  // connection is lost.
  //
  // The server reads its input in order, so on an unencrypted connection
  // all the data goes right behind the query, and the server never waits
  // for it; libpq, which sends COPY data only once the server has asked
  // for it, is bypassed for that.  Each COPY then also gets the CopyDone
  // that libpq sends to leave its COPY state, after all of the data: the
  // server ignores CopyData and CopyDone outside COPY (as it does the data
  // of the COPYs a failure skipped).  Over SSL or GSSAPI encryption each
  // COPY's data is sent through libpq when the server asks for it.
  Status CopyQuery(const std::string& sql,
                   const std::vector<const std::string*>& pieces,
                   CopyOutcome* out);

  const std::string& last_sqlstate() const { return last_sqlstate_; }
  PGconn* get() { return conn_.get(); }

 private:
  Status Check(PGresult* res, const std::string& what, PgResult* out);
  // The status of a lost connection, with libpq's message.
  Status Lost(const char* what);
  // Sends one COPY's data (in pieces of 1 MB) and its end; false when the
  // connection failed.
  bool SendCopyData(const std::string& data);
  // Writes the CopyData and CopyDone messages of every piece straight to
  // the socket (see CopyQuery); false with *error when the write failed.
  bool WriteCopiesAhead(const std::vector<const std::string*>& pieces,
                        std::string* error);

  std::unique_ptr<PGconn, PgConnDeleter> conn_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL -> name
  uint64_t statements_named_ = 0;  // the names w2p_1... given this session
  // A pipeline in flight: how many results it will give, and which of
  // them are statements it prepares (result index -> SQL).
  struct PipelinePrepare {
    size_t index;  // of its result
    std::string sql;
    std::string name;
  };
  struct Pipeline {
    size_t results = 0;
    std::vector<PipelinePrepare> prepares;
  };
  std::deque<Pipeline> pipelines_;  // oldest first
  std::string last_sqlstate_;
};

}  // namespace walapply::sink::postgres
