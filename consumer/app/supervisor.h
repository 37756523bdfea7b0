// supervisor.h
//    Runs one child walapply process per link and keeps them running.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Each link runs as its own process, started with the single-link flags
// (-d SOURCE -S SLOT --start -o origin=none --target ...), so a link is
// exactly the code the single-link tests cover, and a crash or a fatal
// error in one link leaves the others running.  Threads would share the
// process-wide stop flag, the logger and libpq's notice handling, and one
// link's abort would take down the whole mesh.
//
// The supervisor forwards SIGINT, SIGTERM and SIGHUP to its children,
// prefixes their log lines with the link name ("[a->b] "), restarts a child
// that exits without being told to (1 s backoff doubling up to 30 s, reset
// after a minute of running), and exits once every child has stopped after
// a stop signal: 0 if each exited cleanly, 1 otherwise.  Children get
// PR_SET_PDEATHSIG, so a supervisor killed with SIGKILL takes them along.

#pragma once

#include <string>
#include <vector>

namespace walapply::app {

struct ChildSpec {
  std::string name;               // "a->b", the log prefix
  std::vector<std::string> args;  // argv[1..] of the child walapply
};

// Runs the children until a stop signal; returns the process exit code.
// Installs its own signal handlers.
int Supervise(const std::string& self, const std::vector<ChildSpec>& children);

}  // namespace walapply::app
