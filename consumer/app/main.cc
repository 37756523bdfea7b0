// main.cc
//    walapply: stream wal2proto changes from a slot into targets.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <string>

#include "app/mesh.h"
#include "app/options.h"
#include "app/runner.h"

namespace {

void SetUpLogging(int verbose) {
  auto logger = spdlog::stderr_logger_st("walapply");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e walapply[%P] %l: %v");
  spdlog::set_level(verbose >= 2   ? spdlog::level::debug
                    : verbose == 1 ? spdlog::level::info
                                   : spdlog::level::warn);
}

// This executable, for `run` to start one per link.  A binary replaced
// while running (a rebuild, a package upgrade) shows as "PATH (deleted)":
// the path then holds the new one, which is what a restarted link runs.
std::string SelfPath(const char* argv0) {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return argv0;
  std::string path(buf, static_cast<size_t>(n));
  const std::string deleted = " (deleted)";
  if (path.size() > deleted.size() &&
      path.compare(path.size() - deleted.size(), deleted.size(), deleted) ==
          0) {
    path.resize(path.size() - deleted.size());
  }
  return path;
}

// False when the command line said to exit (help, version: *exit_code 0;
// an error, printed: 2).
bool ShouldRun(walapply::app::ParseOutcome outcome, const std::string& error,
               int* exit_code) {
  switch (outcome) {
    case walapply::app::ParseOutcome::kExitOk:
      *exit_code = 0;
      return false;
    case walapply::app::ParseOutcome::kExitError:
      std::cerr << "walapply: " << error << "\n";
      *exit_code = 2;
      return false;
    case walapply::app::ParseOutcome::kRun:
      break;
  }
  return true;
}

// `walapply init|run -c topology.yaml ...`
int MeshMain(int argc, char** argv) {
  walapply::app::MeshCommand command;
  std::string error;
  int code = 0;
  if (!ShouldRun(walapply::app::ParseMeshCommand(argc, argv, &command, &error),
                 error, &code)) {
    return code;
  }
  SetUpLogging(command.verbose);
  return walapply::app::RunMeshCommand(command, SelfPath(argv[0]));
}

}  // namespace

int main(int argc, char** argv) {
  if (walapply::app::IsMeshCommand(argc, argv)) return MeshMain(argc, argv);
  walapply::app::Options options;
  std::string error;
  int code = 0;
  if (!ShouldRun(walapply::app::ParseOptions(argc, argv, &options, &error),
                 error, &code)) {
    return code;
  }
  SetUpLogging(options.verbose);
  walapply::app::InstallSignalHandlers();
  return walapply::app::Run(options);
}
