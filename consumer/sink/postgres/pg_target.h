// pg_target.h
//    What a postgresql:// target names: the connection and the link settings.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Two spellings are accepted:
//   postgresql://[user@]host[:port]/dbname?PARAMS   (a libpq URI)
//   postgresql:KEY=VALUE KEY=VALUE ...              (a libpq conninfo string)
// Besides libpq's own parameters, a target takes these, which are removed
// before the rest goes to libpq:
//   source=NAME        the node the changes come from; the target's
//                      replication origin is wal2proto_NAME (required)
//   node=NAME          this node's name, used as the local rows' origin
//                      when breaking ties (required)
//   resolution=POLICY  the default conflict resolution (last_update_wins)
//   resolution.SCHEMA.TABLE=POLICY   the resolution of one table
//   tombstone_retention=SECONDS      how long tombstones are kept (7 days)
//   pipeline=on|off    send whole transactions in libpq pipeline mode and
//                      read their results while the next one is prepared
//                      (on)
//   delta.SCHEMA.TABLE=COL[,COL]     counter columns: an update adds its
//                      difference (new - old) to the local value instead of
//                      setting it, so concurrent increments all count (needs
//                      the old value: REPLICA IDENTITY FULL on the source)
// Node names are [A-Za-z0-9_] only, so that origin names need no quoting.

#pragma once

#include <map>
#include <string>
#include <vector>

#include "model/status.h"
#include "sink/postgres/resolution.h"

namespace walapply::sink::postgres {

struct TargetConfig {
  std::string conninfo;  // for PQconnectdb, without our parameters
  std::string source_node;
  std::string local_node;
  Policy default_policy = Policy::kLastUpdateWins;
  std::map<std::string, Policy> table_policies;  // "schema.table"
  // "schema.table" -> counter columns
  std::map<std::string, std::vector<std::string>> delta_columns;
  int64_t tombstone_retention_s = 7 * 86400;
  bool pipeline = true;
  // Whether deletes this link applies leave tombstones.  Off is right only
  // when the source is the node's one peer (two nodes): every later change
  // of the same key then comes from that source, newer than the delete,
  // and only a third node's older change could need the tombstone.
  bool applied_tombstones = true;

  std::string OriginName() const { return "wal2proto_" + source_node; }
  Policy PolicyFor(const std::string& schema, const std::string& table) const;
};

Result<TargetConfig> ParseTarget(const std::string& uri);

// True for a valid node name.
bool ValidNodeName(const std::string& name);

}  // namespace walapply::sink::postgres
