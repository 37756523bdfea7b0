// topology.h
//    A many-master topology: the nodes of a full mesh and the link settings,
//    read from a YAML file.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The file:
//   nodes:                                  # at least two, in this order
//     a: "host=10.0.0.1 dbname=app user=postgres"   # libpq conninfo or URI
//     b: "postgresql://10.0.0.2/app?user=postgres"
//   resolution: last_update_wins            # default policy (optional)
//   tables:                                 # optional
//     include: [public.*]                   # plugin include-tables patterns
//     exclude: [public.audit]               # plugin exclude-tables patterns
//     resolution: {public.accounts: first_update_wins}
//     delta: {public.counters: [hits]}
//   tombstone_retention: 604800             # seconds (optional)
//
// Every ordered pair of nodes (X, Y) is a link X -> Y: slot
// wal2proto_X_to_Y on X (node names lower-cased, as slot names must be),
// read with origin=none, applied to Y as a postgresql: target with
// source=X and node=Y.  The extension's own tables (schema wal2proto: the
// conflict log and tombstones) are node-local bookkeeping and are always
// excluded from the stream.

#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/status.h"

namespace walapply::app {

struct TopologyNode {
  std::string name;
  std::string conninfo;  // libpq conninfo string or URI, as written
};

// One schema.table pattern of the plugin's include-tables syntax, parsed:
// unquoted text is lower-cased and '*' is a wildcard; quoted text is
// literal (a literal '*' or '\' is kept escaped with '\').
struct TablePattern {
  std::string schema;
  std::string table;
};

struct Link {
  const TopologyNode* source;
  const TopologyNode* target;

  std::string Name() const;  // "a->b"
};

struct Topology {
  std::string path;  // the file it came from, for messages
  std::vector<TopologyNode> nodes;
  std::optional<std::string> resolution;  // default policy name
  std::vector<std::string> include;       // patterns as written
  std::vector<std::string> exclude;
  std::vector<TablePattern> include_parsed;
  std::vector<TablePattern> exclude_parsed;  // "wal2proto.*" included
  std::map<std::string, std::string> table_resolution;    // "s.t" -> policy
  std::map<std::string, std::vector<std::string>> delta;  // "s.t" -> cols
  std::optional<int64_t> tombstone_retention_s;

  const TopologyNode* Find(const std::string& name) const;
  // Every link of the full mesh, by source then target, in file order.
  std::vector<Link> Links() const;
  // Whether changes of schema.table (or of a partition whose ancestors
  // include it) are in the stream, as the plugin decides.
  bool Replicates(const std::string& schema, const std::string& table) const;
};

// Reads and validates a topology file.  Errors are one line naming the file,
// the key and the offending value.
Result<Topology> LoadTopology(const std::string& path);

// The slot on the link's source that feeds its target.
std::string SlotName(const Link& link);

// The plugin options of every link (origin=none, the table filters).
std::vector<std::string> PluginOptions(const Topology& topology);

// The --target of a link: the target node's connection plus source=, node=
// and the resolution settings (see sink/postgres/pg_target.h).
std::string TargetUri(const Topology& topology, const Link& link);

// Parses a comma-separated pattern list as the plugin does; on failure
// returns false with a one-line reason in *error.
bool ParseTablePatterns(const std::string& text, std::vector<TablePattern>* out,
                        std::string* error);

// Whether schema.table matches one of the patterns.
bool TableMatches(const std::vector<TablePattern>& patterns,
                  const std::string& schema, const std::string& table);

}  // namespace walapply::app
