// options.h
//    walapply's settings, from the command line and a YAML file.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/lsn.h"
#include "model/status.h"

namespace CLI {
class App;
}

namespace walapply::app {

struct Options {
  std::string dbname;  // connection string or URI; PG* variables fill gaps
  std::string slot;
  std::string plugin = "wal2proto";
  bool create_slot = false;
  bool if_not_exists = false;
  bool drop_slot = false;
  bool start = false;
  bool two_phase = false;  // create the slot with TWO_PHASE
  bool temporary_slot = false;
  bool export_snapshot = false;
  std::vector<std::pair<std::string, std::string>> plugin_options;
  std::optional<model::Lsn> startpos;
  std::optional<model::Lsn> endpos;
  double fsync_interval_s = 0;  // 0: as soon as the stream goes quiet
  double status_interval_s = 10;
  int verbose = 0;
  bool no_loop = false;
  std::vector<std::string> targets;
  std::string spill_dir;
  size_t txn_memory_mb = 16;
};

enum class ParseOutcome { kRun, kExitOk, kExitError };

// Runs app.parse(argc, argv) with walapply's handling of its outcomes: help
// (the text help() gives) and version are printed (kExitOk); a parse error
// becomes a one-line *error (kExitError).
ParseOutcome ParseCommandLine(CLI::App& app, int argc, char** argv,
                              const std::function<std::string()>& help,
                              std::string* error);

// Parses argv (and the -c YAML file it names).  On kExitOk the help or
// version text was printed; on kExitError *error holds a one-line reason.
ParseOutcome ParseOptions(int argc, char** argv, Options* options,
                          std::string* error);

}  // namespace walapply::app
