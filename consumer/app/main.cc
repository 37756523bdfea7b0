// main.cc
//    walapply: stream wal2proto changes from a slot into targets.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "app/options.h"
#include "app/runner.h"

int main(int argc, char** argv) {
  walapply::app::Options options;
  std::string error;
  switch (walapply::app::ParseOptions(argc, argv, &options, &error)) {
    case walapply::app::ParseOutcome::kExitOk:
      return 0;
    case walapply::app::ParseOutcome::kExitError:
      std::cerr << "walapply: " << error << "\n";
      return 2;
    case walapply::app::ParseOutcome::kRun:
      break;
  }
  auto logger = spdlog::stderr_logger_st("walapply");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e walapply[%P] %l: %v");
  spdlog::set_level(options.verbose >= 2   ? spdlog::level::debug
                    : options.verbose == 1 ? spdlog::level::info
                                           : spdlog::level::warn);
  walapply::app::InstallSignalHandlers();
  return walapply::app::Run(options);
}
