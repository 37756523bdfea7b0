// runner.h
//    The walapply process: slot management and the streaming loop.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#pragma once

#include "app/options.h"

namespace walapply::app {

// Installs the signal handlers (SIGINT/SIGTERM: stop after the current
// transaction; SIGHUP: reopen target files).
void InstallSignalHandlers();

// Runs what the options ask; returns the process exit code.
int Run(const Options& options);

}  // namespace walapply::app
