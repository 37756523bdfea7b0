// replication.h
//    A libpq replication connection speaking the streaming protocol.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// What pg_recvlogical does, as a library: a replication=database
// connection; IDENTIFY_SYSTEM; CREATE_REPLICATION_SLOT ... LOGICAL;
// DROP_REPLICATION_SLOT; START_REPLICATION SLOT ... LOGICAL with plugin
// options; then CopyBoth, reading XLogData ('w') and keepalives ('k') with
// an asynchronous PQgetCopyData and a socket wait bounded by a timeout, and
// writing standby status updates ('r').
//
// Errors: a lost connection, a server shutting down or starting up, and a
// slot still held by a previous walsender are kRetry; everything else
// (no such slot, a plugin error, bad options) is kFatal.
//
// One connection per object; not thread-safe.

#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/lsn.h"
#include "model/status.h"

namespace walapply::stream {

struct SystemInfo {
  std::string system_id;
  int timeline = 0;
  model::Lsn xlog_pos;
  std::string dbname;
};

struct SlotInfo {
  std::string plugin;
  model::Lsn confirmed_flush;
  model::Lsn restart_lsn;
  bool two_phase = false;
};

struct CreateSlotOptions {
  bool temporary = false;
  bool two_phase = false;
  bool export_snapshot = false;
  bool if_not_exists = false;
};

struct CreatedSlot {
  bool existed = false;
  model::Lsn consistent_point;
  std::string snapshot_name;
};

// One message of the CopyBoth stream.
struct CopyMessage {
  enum class Type { kNone, kXLogData, kKeepalive };
  Type type = Type::kNone;
  model::Lsn data_start;  // XLogData
  model::Lsn wal_end;
  bool reply_requested = false;  // keepalive
  std::string_view payload;      // XLogData: valid until the next Read
};

class ReplicationConnection {
 public:
  ~ReplicationConnection();
  ReplicationConnection(const ReplicationConnection&) = delete;
  ReplicationConnection& operator=(const ReplicationConnection&) = delete;

  // Connects with `conninfo` (a connection string or URI; PG* environment
  // variables fill in the rest) as a replication=database connection.
  static Result<std::unique_ptr<ReplicationConnection>> Connect(
      const std::string& conninfo);

  Result<SystemInfo> IdentifySystem();
  Result<CreatedSlot> CreateSlot(const std::string& slot,
                                 const std::string& plugin,
                                 const CreateSlotOptions& options);
  Status DropSlot(const std::string& slot);
  // nullopt when there is no such slot.
  Result<std::optional<SlotInfo>> ReadSlot(const std::string& slot);

  Status StartReplication(
      const std::string& slot, model::Lsn start,
      const std::vector<std::pair<std::string, std::string>>& options);

  // Reads the next message, waiting at most timeout_ms for one; returns a
  // message of Type::kNone when none arrived in time.
  Status Read(int timeout_ms, CopyMessage* out);
  // Whether a message is already buffered (no wait needed).
  bool HasBufferedData();
  Status SendStatus(model::Lsn write, model::Lsn flush, bool reply_requested);
  // Ends the copy cleanly (CopyDone) and waits for the server to finish.
  Status EndCopy();

 private:
  explicit ReplicationConnection(PGconn* conn) : conn_(conn) {}
  Status ErrorFromResult(PGresult* res, const std::string& what) const;
  Status ConnectionError(const std::string& what) const;

  PGconn* conn_;
  char* copy_buffer_ = nullptr;  // from PQgetCopyData, PQfreemem'd
};

// Quotes for the replication grammar.
std::string QuoteIdentifier(const std::string& s);
std::string QuoteLiteral(const std::string& s);

}  // namespace walapply::stream
