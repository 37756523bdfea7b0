// mesh.h
//    The topology sub-commands: `walapply init` prepares every node of a
//    topology, `walapply run` supervises one walapply process per link.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#pragma once

#include <string>

#include "app/options.h"
#include "app/topology.h"

namespace walapply::app {

struct MeshCommand {
  enum class Kind { kInit, kRun };
  Kind kind = Kind::kInit;
  std::string config;  // the topology file
  std::string node;    // run --node NAME: the links into NAME
  bool all = false;    // run --all: every link
  int verbose = 0;
};

// Whether argv names a sub-command (`walapply init ...`, `walapply run ...`)
// rather than the single-link flags.
bool IsMeshCommand(int argc, char** argv);

// Parses `walapply init|run ...`; as ParseOptions.
ParseOutcome ParseMeshCommand(int argc, char** argv, MeshCommand* command,
                              std::string* error);

// Runs the parsed sub-command; returns the process exit code.  `self` is
// the walapply executable that `run` starts for each link.
int RunMeshCommand(const MeshCommand& command, const std::string& self);

}  // namespace walapply::app
