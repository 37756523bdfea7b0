// options.cc
//    walapply's settings, from the command line and a YAML file.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The flags follow pg_recvlogical.  A YAML file (-c) holds the same
// settings under the long flag names; flags given on the command line win:
//   dbname: "host=... dbname=..."
//   slot: s
//   start: true
//   option: {streaming: "on"}      # or a list of "name=value"
//   target: [file:out.sql]
//   status-interval: 10

#include "app/options.h"

#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>

#include <fmt/format.h>

namespace walapply::app {

namespace {

const char kVersion[] = "walapply (wal2proto) 0.1";

bool ParseNameValue(const std::string& s, std::pair<std::string, std::string>* out) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0) return false;
  *out = {s.substr(0, eq), s.substr(eq + 1)};
  return true;
}

bool ParseLsnFlag(const std::string& flag, const std::string& text,
                  std::optional<model::Lsn>* out, std::string* error) {
  auto lsn = model::Lsn::Parse(text);
  if (!lsn) {
    *error = fmt::format("invalid value \"{}\" for {}: expected an LSN such as 16/B374D848",
                         text, flag);
    return false;
  }
  *out = lsn;
  return true;
}

bool ParseSeconds(const std::string& flag, const std::string& text, double* out,
                  std::string* error) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0 || v > 86400) {
    *error = fmt::format("invalid value \"{}\" for {}: expected seconds (0 to 86400)",
                         text, flag);
    return false;
  }
  *out = v;
  return true;
}

// Applies the YAML file's settings to whatever the command line left unset.
bool ApplyYaml(const std::string& path, const CLI::App& app, Options* o,
               std::string* lsn_start, std::string* lsn_end, std::string* fsync_s,
               std::string* status_s, std::vector<std::string>* opts,
               std::string* error) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    *error = fmt::format("could not read config file \"{}\": {}", path, e.what());
    return false;
  }
  if (!root.IsMap()) {
    *error = fmt::format("config file \"{}\" is not a mapping of settings", path);
    return false;
  }
  auto given = [&](const char* name) { return app.count(name) > 0; };
  try {
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "dbname") {
        if (!given("--dbname")) o->dbname = v.as<std::string>();
      } else if (key == "slot") {
        if (!given("--slot")) o->slot = v.as<std::string>();
      } else if (key == "plugin") {
        if (!given("--plugin")) o->plugin = v.as<std::string>();
      } else if (key == "create-slot") {
        o->create_slot |= v.as<bool>();
      } else if (key == "if-not-exists") {
        o->if_not_exists |= v.as<bool>();
      } else if (key == "drop-slot") {
        o->drop_slot |= v.as<bool>();
      } else if (key == "start") {
        o->start |= v.as<bool>();
      } else if (key == "two-phase") {
        o->two_phase |= v.as<bool>();
      } else if (key == "temporary-slot") {
        o->temporary_slot |= v.as<bool>();
      } else if (key == "no-loop") {
        o->no_loop |= v.as<bool>();
      } else if (key == "verbose") {
        if (!given("--verbose")) o->verbose = v.as<bool>() ? 1 : 0;
      } else if (key == "startpos") {
        if (!given("--startpos")) *lsn_start = v.as<std::string>();
      } else if (key == "endpos") {
        if (!given("--endpos")) *lsn_end = v.as<std::string>();
      } else if (key == "fsync-interval") {
        if (!given("--fsync-interval")) *fsync_s = v.as<std::string>();
      } else if (key == "status-interval") {
        if (!given("--status-interval")) *status_s = v.as<std::string>();
      } else if (key == "spill-dir") {
        if (!given("--spill-dir")) o->spill_dir = v.as<std::string>();
      } else if (key == "txn-memory-mb") {
        if (!given("--txn-memory-mb")) o->txn_memory_mb = v.as<size_t>();
      } else if (key == "option") {
        if (given("--option")) continue;
        if (v.IsMap()) {
          for (const auto& ov : v) {
            opts->push_back(ov.first.as<std::string>() + "=" + ov.second.as<std::string>());
          }
        } else {
          for (const auto& ov : v) opts->push_back(ov.as<std::string>());
        }
      } else if (key == "target") {
        if (given("--target")) continue;
        if (v.IsSequence()) {
          for (const auto& t : v) o->targets.push_back(t.as<std::string>());
        } else {
          o->targets.push_back(v.as<std::string>());
        }
      } else {
        *error = fmt::format("unknown setting \"{}\" in config file \"{}\"", key, path);
        return false;
      }
    }
  } catch (const YAML::Exception& e) {
    *error = fmt::format("bad value in config file \"{}\": {}", path, e.what());
    return false;
  }
  return true;
}

}  // namespace

ParseOutcome ParseCommandLine(CLI::App& app, int argc, char** argv,
                              const std::function<std::string()>& help,
                              std::string* error) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << help();
    return ParseOutcome::kExitOk;
  } catch (const CLI::CallForVersion&) {
    std::cout << kVersion << "\n";
    return ParseOutcome::kExitOk;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    for (char& c : what) {
      if (c == '\n') c = ' ';
    }
    *error = what;
    return ParseOutcome::kExitError;
  }
  return ParseOutcome::kRun;
}

ParseOutcome ParseOptions(int argc, char** argv, Options* o, std::string* error) {
  CLI::App app{
      "walapply streams wal2proto changes from a logical replication slot and "
      "applies whole transactions to targets, confirming to the source only "
      "what every target has made durable.",
      "walapply"};
  app.set_version_flag("-V,--version", kVersion);
  app.get_formatter()->column_width(34);
  app.footer(
      "Many masters from a topology file: walapply init -c TOPOLOGY.yaml, "
      "then walapply run -c TOPOLOGY.yaml --node NAME | --all (see walapply "
      "run --help).");

  std::string config, startpos, endpos, fsync_s, status_s;
  std::vector<std::string> opts;
  app.add_option("-c,--config", config, "read settings from a YAML file (flags win)");
  app.add_option("-d,--dbname", o->dbname,
                 "connection string or URI of the source database (PG* "
                 "environment variables fill in the rest)");
  app.add_option("-S,--slot", o->slot, "name of the logical replication slot");
  app.add_option("-P,--plugin", o->plugin, "output plugin for --create-slot")
      ->capture_default_str();
  app.add_flag("--create-slot", o->create_slot, "create the slot");
  app.add_flag("--if-not-exists", o->if_not_exists,
               "with --create-slot: no error if the slot exists");
  app.add_flag("-t,--two-phase", o->two_phase,
               "with --create-slot: enable decoding of prepared transactions");
  app.add_flag("--temporary-slot", o->temporary_slot,
               "with --create-slot: a slot that lives as long as this connection");
  app.add_flag("--export-snapshot", o->export_snapshot,
               "with --create-slot: export a snapshot and print its name");
  app.add_flag("--drop-slot", o->drop_slot, "drop the slot");
  app.add_flag("--start", o->start, "start streaming into the targets");
  app.add_option("-o,--option", opts,
                 "plugin option NAME=VALUE (repeatable), e.g. streaming=on");
  app.add_option("-I,--startpos", startpos, "LSN to start streaming from (X/X)");
  app.add_option("-E,--endpos", endpos,
                 "stop cleanly once the stream reaches this LSN (X/X)");
  app.add_option("-F,--fsync-interval", fsync_s,
                 "seconds between fsyncs of the targets; 0 (default) syncs as "
                 "soon as no more data is waiting");
  app.add_option("-s,--status-interval", status_s,
                 "seconds between status updates to the source (default 10)");
  app.add_option("--target", o->targets,
                 "target URI (repeatable): file:PATH.sql, file:PATH.jsonl, "
                 "file:PATH?format=sql|jsonl, "
                 "postgresql://HOST/DB?source=NAME&node=NAME (a peer master)");
  std::string source_node, node;
  app.add_option("--source-node", source_node,
                 "for postgresql:// targets without source=: the name of the "
                 "node the changes come from");
  app.add_option("--node", node,
                 "for postgresql:// targets without node=: the target's node "
                 "name");
  app.add_option("--spill-dir", o->spill_dir,
                 "directory for spilled large transactions (default $TMPDIR)");
  app.add_option("--txn-memory-mb", o->txn_memory_mb,
                 "MB of one transaction's changes kept in memory before it "
                 "spills to disk (default 16)");
  app.add_flag("-n,--no-loop", o->no_loop, "do not reconnect after a lost connection");
  app.add_flag("-v,--verbose", o->verbose, "more output (repeat for debug)");

  ParseOutcome parsed =
      ParseCommandLine(app, argc, argv, [&] { return app.help(); }, error);
  if (parsed != ParseOutcome::kRun) return parsed;

  if (!config.empty() &&
      !ApplyYaml(config, app, o, &startpos, &endpos, &fsync_s, &status_s, &opts,
                 error)) {
    return ParseOutcome::kExitError;
  }
  if (!startpos.empty() && !ParseLsnFlag("--startpos", startpos, &o->startpos, error)) {
    return ParseOutcome::kExitError;
  }
  if (!endpos.empty() && !ParseLsnFlag("--endpos", endpos, &o->endpos, error)) {
    return ParseOutcome::kExitError;
  }
  if (!fsync_s.empty() &&
      !ParseSeconds("--fsync-interval", fsync_s, &o->fsync_interval_s, error)) {
    return ParseOutcome::kExitError;
  }
  if (!status_s.empty() &&
      !ParseSeconds("--status-interval", status_s, &o->status_interval_s, error)) {
    return ParseOutcome::kExitError;
  }
  for (const std::string& s : opts) {
    std::pair<std::string, std::string> nv;
    if (!ParseNameValue(s, &nv)) {
      *error = fmt::format("invalid value \"{}\" for --option: expected NAME=VALUE", s);
      return ParseOutcome::kExitError;
    }
    o->plugin_options.push_back(nv);
  }

  // --source-node / --node fill in what postgresql:// targets leave out.
  for (std::string& t : o->targets) {
    if (t.rfind("postgresql:", 0) != 0 && t.rfind("postgres://", 0) != 0) {
      continue;
    }
    bool uri = t.find("://") != std::string::npos;
    const std::pair<std::string, std::string> given[] = {
        {"source", source_node}, {"node", node}};
    for (const auto& [name, value] : given) {
      if (value.empty()) continue;
      bool has = t.find((uri ? "?" : " ") + name + "=") != std::string::npos ||
                 t.find("&" + name + "=") != std::string::npos ||
                 t.find(":" + name + "=") != std::string::npos;
      if (has) continue;
      t += uri ? (t.find('?') == std::string::npos ? "?" : "&") : " ";
      t += name + "=" + value;
    }
  }

  if (o->slot.empty()) {
    *error = "no slot specified (--slot)";
    return ParseOutcome::kExitError;
  }
  if (!o->create_slot && !o->drop_slot && !o->start) {
    *error = "at least one action needs to be specified (--create-slot, --start, --drop-slot)";
    return ParseOutcome::kExitError;
  }
  if (o->drop_slot && (o->create_slot || o->start)) {
    *error = "--drop-slot cannot be used together with --create-slot or --start";
    return ParseOutcome::kExitError;
  }
  if (o->start && o->targets.empty()) {
    *error = "--start needs at least one --target";
    return ParseOutcome::kExitError;
  }
  if (!o->start && (o->startpos || o->endpos)) {
    *error = o->startpos ? "--startpos needs --start" : "--endpos needs --start";
    return ParseOutcome::kExitError;
  }
  if (o->if_not_exists && !o->create_slot) {
    *error = "--if-not-exists needs --create-slot";
    return ParseOutcome::kExitError;
  }
  if (o->temporary_slot && !(o->create_slot && o->start)) {
    *error = "--temporary-slot needs --create-slot and --start";
    return ParseOutcome::kExitError;
  }
  if (o->txn_memory_mb == 0) {
    *error = "invalid value \"0\" for --txn-memory-mb: must be at least 1";
    return ParseOutcome::kExitError;
  }
  return ParseOutcome::kRun;
}

}  // namespace walapply::app
