// mesh.cc
//    The topology sub-commands: `walapply init` prepares every node of a
//    topology, `walapply run` supervises one walapply process per link.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// init checks every node first and reports every problem (a setting, a
// table that cannot replicate, a node it cannot reach) before it changes
// anything, so one run lists all that needs fixing.  Then it installs, on
// each node: the extension, one replication origin per incoming link and
// one slot per outgoing link, each only if missing, so running it again
// is harmless.  run repeats the table check and that the slots exist, then
// hands over to the supervisor.

#include "app/mesh.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>

#include "app/supervisor.h"

namespace walapply::app {

namespace {

const char kVersion[] = "walapply (wal2proto) 0.1";
// SQLSTATEs this file tells apart.
const char kUndefinedObject[] = "42704";  // an unknown setting
const char kDuplicateObject[] = "42710";  // a slot created meanwhile

struct PqFinish {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PqClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, PqFinish>;
using ResultPtr = std::unique_ptr<PGresult, PqClear>;

// libpq's messages end in a newline and may span lines ("\n\tIs the
// server running..."): one line each here.
std::string OneLine(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\t') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
  return s.substr(i);
}

// Rows of text (NULL as empty); on error a message and the SQLSTATE.
struct Rows {
  std::vector<std::vector<std::string>> rows;
};

class NodeConn {
 public:
  static Result<NodeConn> Open(const TopologyNode& node) {
    ConnPtr conn(PQconnectdb(node.conninfo.c_str()));
    if (conn == nullptr || PQstatus(conn.get()) != CONNECTION_OK) {
      return Status::Retry(fmt::format(
          "node {}: could not connect: {}", node.name,
          conn ? OneLine(PQerrorMessage(conn.get())) : "out of memory"));
    }
    // NOTICEs ("extension already exists, skipping") are not news here.
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    return NodeConn(node, std::move(conn));
  }

  // Runs one statement; *sqlstate (if given) receives the error's code.
  Result<Rows> Query(const std::string& sql,
                     const std::vector<std::string>& params = {},
                     std::string* sqlstate = nullptr) {
    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    ResultPtr res(PQexecParams(conn_.get(), sql.c_str(),
                               static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
    ExecStatusType st = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
      const char* code =
          res ? PQresultErrorField(res.get(), PG_DIAG_SQLSTATE) : nullptr;
      if (sqlstate != nullptr) *sqlstate = code != nullptr ? code : "";
      return Status::Fatal(fmt::format("node {}: {}", node_->name,
                                       OneLine(PQerrorMessage(conn_.get()))));
    }
    Rows out;
    for (int r = 0; r < PQntuples(res.get()); r++) {
      std::vector<std::string> row;
      for (int f = 0; f < PQnfields(res.get()); f++) {
        row.emplace_back(PQgetvalue(res.get(), r, f));
      }
      out.rows.push_back(std::move(row));
    }
    return out;
  }

  const TopologyNode& node() const { return *node_; }
  int server_version() const { return PQserverVersion(conn_.get()); }

 private:
  NodeConn(const TopologyNode& node, ConnPtr conn)
      : node_(&node), conn_(std::move(conn)) {}

  const TopologyNode* node_;
  ConnPtr conn_;
};

// Appends a message for every server setting of `c` that a node with
// `outgoing` and `incoming` links lacks.
Status CheckSettings(NodeConn* c, size_t outgoing, size_t incoming,
                     std::vector<std::string>* problems) {
  const std::string& name = c->node().name;
  auto show = [&](const char* setting) -> Result<std::string> {
    auto rows = c->Query(fmt::format("SHOW {}", setting));
    if (!rows.ok()) return rows.status();
    return rows->rows.at(0).at(0);
  };
  auto wal_level = show("wal_level");
  if (!wal_level.ok()) return wal_level.status();
  if (*wal_level != "logical") {
    problems->push_back(fmt::format(
        "node {}: wal_level is \"{}\"; set wal_level = logical and restart",
        name, *wal_level));
  }
  auto track = show("track_commit_timestamp");
  if (!track.ok()) return track.status();
  if (*track != "on") {
    problems->push_back(
        fmt::format("node {}: track_commit_timestamp is \"{}\"; set "
                    "track_commit_timestamp = on and restart",
                    name, *track));
  }
  // A setting of some PostgreSQL builds only: where it is unknown, any
  // output plugin may be loaded.
  std::string sqlstate;
  auto libs = c->Query("SHOW output_plugin_libraries", {}, &sqlstate);
  if (!libs.ok() && sqlstate != kUndefinedObject) return libs.status();
  if (libs.ok()) {
    const std::string& value = libs->rows.at(0).at(0);
    bool listed = false;
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      if (comma == std::string::npos) comma = value.size();
      std::string item = Trim(value.substr(pos, comma - pos));
      if (item.size() >= 2 && item.front() == '"' && item.back() == '"') {
        item = item.substr(1, item.size() - 2);
      }
      listed |= item == "wal2proto";
      pos = comma + 1;
    }
    if (!listed) {
      problems->push_back(fmt::format(
          "node {}: output_plugin_libraries is \"{}\"; add wal2proto to it "
          "and restart",
          name, value));
    }
  }
  // Slots of this node's outgoing links, plus the slots already there that
  // are not ours; before PostgreSQL 18 replication origins also take one
  // of max_replication_slots each.
  auto others = c->Query(
      "SELECT count(*) FROM pg_replication_slots "
      "WHERE slot_name NOT LIKE 'wal2proto\\_%\\_to\\_%'");
  if (!others.ok()) return others.status();
  size_t other_slots = std::stoul(others->rows.at(0).at(0));
  bool origins_share = c->server_version() < 180000;
  size_t need = outgoing + other_slots + (origins_share ? incoming : 0);
  auto max_slots = show("max_replication_slots");
  if (!max_slots.ok()) return max_slots.status();
  if (std::stoul(*max_slots) < need) {
    std::string why =
        fmt::format("{} for the slots of its outgoing links", outgoing);
    if (origins_share) {
      why += fmt::format(
          ", {} for the replication origins of its incoming links", incoming);
    }
    if (other_slots > 0)
      why += fmt::format(", {} for the other slots there", other_slots);
    problems->push_back(fmt::format(
        "node {}: max_replication_slots is {}; needs at least {} ({}) and a "
        "restart",
        name, *max_slots, need, why));
  }
  auto senders = show("max_wal_senders");
  if (!senders.ok()) return senders.status();
  if (std::stoul(*senders) < outgoing) {
    problems->push_back(fmt::format(
        "node {}: max_wal_senders is {}; needs at least {} (one per outgoing "
        "link) and a restart",
        name, *senders, outgoing));
  }
  return Status::Ok();
}

// Appends a message naming the replicated tables of `c` that have no
// replica identity: without a primary key, REPLICA IDENTITY FULL or USING
// INDEX an update or delete cannot say which row it changed.
Status CheckTables(NodeConn* c, const Topology& topology,
                   std::vector<std::string>* problems) {
  // Ordinary tables and partitions that logical decoding sees, each with
  // its partition ancestors (which the plugin's patterns match too).
  auto rows = c->Query(R"SQL(
    SELECT n.nspname, c.relname, c.relreplident,
           EXISTS (SELECT 1 FROM pg_index i
                   WHERE i.indrelid = c.oid AND i.indisprimary)::text,
           coalesce((SELECT string_agg(an.nspname || '.' || ac.relname, ' ')
                     FROM pg_partition_ancestors(c.oid) a
                     JOIN pg_class ac ON ac.oid = a.relid
                     JOIN pg_namespace an ON an.oid = ac.relnamespace
                     WHERE a.relid <> c.oid), '')
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'r' AND c.relpersistence = 'p'
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname NOT LIKE 'pg\_toast%'
     ORDER BY 1, 2)SQL");
  if (!rows.ok()) return rows.status();
  std::vector<std::string> refused;
  for (const auto& r : rows->rows) {
    const std::string& schema = r[0];
    const std::string& table = r[1];
    char ident = r[2].empty() ? 'd' : r[2][0];
    bool has_pk = r[3] == "true";
    bool keyed = ident == 'f' || ident == 'i' || (ident == 'd' && has_pk);
    if (keyed) continue;
    bool replicated = topology.Replicates(schema, table);
    // A partition is replicated when one of its ancestors is named.
    size_t pos = 0;
    const std::string& anc = r[4];
    while (!replicated && pos < anc.size()) {
      size_t sp = anc.find(' ', pos);
      if (sp == std::string::npos) sp = anc.size();
      std::string qualified = anc.substr(pos, sp - pos);
      size_t dot = qualified.find('.');
      replicated = topology.Replicates(qualified.substr(0, dot),
                                       qualified.substr(dot + 1));
      pos = sp + 1;
    }
    if (replicated) refused.push_back(schema + "." + table);
  }
  if (!refused.empty()) {
    std::string list;
    for (const std::string& t : refused) list += (list.empty() ? "" : ", ") + t;
    problems->push_back(fmt::format(
        "node {}: replicated table{} without a primary key, REPLICA IDENTITY "
        "FULL or USING INDEX: {}; add a primary key, ALTER TABLE ... REPLICA "
        "IDENTITY FULL, or list {} under tables.exclude",
        c->node().name, refused.size() == 1 ? "" : "s", list,
        refused.size() == 1 ? "it" : "them"));
  }
  return Status::Ok();
}

size_t CountLinks(const std::vector<Link>& links, const TopologyNode& n,
                  bool outgoing) {
  size_t count = 0;
  for (const Link& l : links) count += (outgoing ? l.source : l.target) == &n;
  return count;
}

void PrintProblems(const std::vector<std::string>& problems) {
  for (const std::string& p : problems) std::cerr << p << "\n";
}

int Init(const Topology& topology) {
  std::vector<Link> links = topology.Links();
  std::vector<std::string> problems;
  std::vector<NodeConn> conns;
  for (const TopologyNode& node : topology.nodes) {
    auto c = NodeConn::Open(node);
    if (!c.ok()) {
      problems.push_back(c.status().message());
      continue;
    }
    Status st = CheckSettings(&c.value(), CountLinks(links, node, true),
                              CountLinks(links, node, false), &problems);
    if (st.ok()) st = CheckTables(&c.value(), topology, &problems);
    if (!st.ok()) {
      problems.push_back(st.message());
      continue;
    }
    conns.push_back(std::move(c.value()));
  }
  if (!problems.empty()) {
    PrintProblems(problems);
    std::cerr << fmt::format(
        "walapply: init: {} problem{} found; nothing was changed\n",
        problems.size(), problems.size() == 1 ? "" : "s");
    return 1;
  }

  for (NodeConn& c : conns) {
    const std::string& name = c.node().name;
    auto fail = [&](const Status& st) {
      std::cerr << "walapply: init: " << st.message() << "\n";
      return 1;
    };
    auto ext = c.Query("CREATE EXTENSION IF NOT EXISTS wal2proto");
    if (!ext.ok()) return fail(ext.status());
    auto version = c.Query(
        "SELECT extversion FROM pg_extension WHERE extname = 'wal2proto'");
    if (!version.ok()) return fail(version.status());
    std::cout << fmt::format("node {}: extension wal2proto {}\n", name,
                             version->rows.at(0).at(0));
    for (const Link& l : links) {
      if (l.target != &c.node()) continue;
      std::string origin = "wal2proto_" + l.source->name;
      auto have =
          c.Query("SELECT pg_replication_origin_oid($1) IS NOT NULL", {origin});
      if (!have.ok()) return fail(have.status());
      bool exists = have->rows.at(0).at(0) == "t";
      if (!exists) {
        auto made =
            c.Query("SELECT pg_replication_origin_create($1)", {origin});
        if (!made.ok()) return fail(made.status());
      }
      std::cout << fmt::format("node {}: replication origin {} {}\n", name,
                               origin, exists ? "exists" : "created");
    }
    for (const Link& l : links) {
      if (l.source != &c.node()) continue;
      std::string slot = SlotName(l);
      auto have = c.Query(
          "SELECT plugin FROM pg_replication_slots WHERE slot_name = $1",
          {slot});
      if (!have.ok()) return fail(have.status());
      if (!have->rows.empty()) {
        if (have->rows[0][0] != "wal2proto") {
          return fail(Status::Fatal(fmt::format(
              "node {}: replication slot \"{}\" exists with plugin \"{}\"; "
              "drop it (SELECT pg_drop_replication_slot('{}')) and run init "
              "again",
              name, slot, have->rows[0][0], slot)));
        }
        std::cout << fmt::format("node {}: slot {} exists (link {})\n", name,
                                 slot, l.Name());
        continue;
      }
      std::string sqlstate;
      auto made = c.Query(
          "SELECT lsn FROM pg_create_logical_replication_slot($1, 'wal2proto')",
          {slot}, &sqlstate);
      if (!made.ok() && sqlstate != kDuplicateObject)
        return fail(made.status());
      std::cout << fmt::format(
          "node {}: slot {} created{} (link {})\n", name, slot,
          made.ok() ? " at " + made->rows.at(0).at(0) : "", l.Name());
    }
  }
  std::cout << fmt::format("init: {} nodes ready, {} links\n",
                           topology.nodes.size(), links.size());
  return 0;
}

int Run(const Topology& topology, const MeshCommand& cmd,
        const std::string& self) {
  std::vector<Link> links;
  for (const Link& l : topology.Links()) {
    if (cmd.all || l.target->name == cmd.node) links.push_back(l);
  }
  // The nodes these links touch: checked before anything starts.
  std::vector<std::string> problems;
  for (const TopologyNode& node : topology.nodes) {
    bool involved = false;
    for (const Link& l : links)
      involved |= l.source == &node || l.target == &node;
    if (!involved) continue;
    auto c = NodeConn::Open(node);
    if (!c.ok()) {
      // A node that is down now is not a reason to keep the others
      // waiting: its links start and retry (a child refuses a missing
      // slot when it connects), but its tables could not be checked.
      spdlog::warn(
          "{}; its tables were not checked; its links start anyway and keep "
          "retrying",
          c.status().message());
      continue;
    }
    Status st = CheckTables(&c.value(), topology, &problems);
    for (const Link& l : links) {
      if (!st.ok() || l.source != &node) continue;
      auto have =
          c->Query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1",
                   {SlotName(l)});
      if (!have.ok()) {
        st = have.status();
      } else if (have->rows.empty()) {
        problems.push_back(fmt::format(
            "node {}: replication slot \"{}\" of link {} does not exist; run "
            "walapply init -c {} first",
            node.name, SlotName(l), l.Name(), topology.path));
      }
    }
    if (!st.ok()) problems.push_back(st.message());
  }
  if (!problems.empty()) {
    PrintProblems(problems);
    std::cerr << "walapply: run: not started\n";
    return 1;
  }

  std::vector<ChildSpec> children;
  for (const Link& l : links) {
    ChildSpec spec;
    spec.name = l.Name();
    spec.args = {"-d", l.source->conninfo, "-S", SlotName(l), "--start"};
    for (const std::string& o : PluginOptions(topology)) {
      spec.args.push_back("-o");
      spec.args.push_back(o);
    }
    spec.args.push_back("--target");
    spec.args.push_back(TargetUri(topology, l));
    for (int i = 0; i < cmd.verbose; i++) spec.args.push_back("-v");
    children.push_back(std::move(spec));
  }
  return Supervise(self, children);
}

}  // namespace

bool IsMeshCommand(int argc, char** argv) {
  return argc >= 2 && (std::strcmp(argv[1], "init") == 0 ||
                       std::strcmp(argv[1], "run") == 0);
}

ParseOutcome ParseMeshCommand(int argc, char** argv, MeshCommand* cmd,
                              std::string* error) {
  CLI::App app{"walapply: replicate a many-master topology", "walapply"};
  app.set_version_flag("-V,--version", kVersion);
  app.require_subcommand(1);
  CLI::App* init = app.add_subcommand(
      "init",
      "check every node's settings and install the extension, the "
      "replication origins and the slots of the topology (idempotent)");
  init->add_option("-c,--config", cmd->config, "the topology YAML file")
      ->required();
  init->add_flag("-v,--verbose", cmd->verbose, "more output");
  CLI::App* run = app.add_subcommand(
      "run", "run the topology's links: one walapply process per link");
  run->add_option("-c,--config", cmd->config, "the topology YAML file")
      ->required();
  CLI::Option* node =
      run->add_option("--node", cmd->node, "run every link into this node");
  CLI::Option* all =
      run->add_flag("--all", cmd->all, "run every link of the mesh");
  node->excludes(all);
  run->add_flag("-v,--verbose", cmd->verbose,
                "more output (repeat for debug), passed on to every link");
  ParseOutcome parsed = ParseCommandLine(
      app, argc, argv,
      [&] {
        return app.got_subcommand(init)  ? init->help()
               : app.got_subcommand(run) ? run->help()
                                         : app.help();
      },
      error);
  if (parsed != ParseOutcome::kRun) return parsed;
  cmd->kind = app.got_subcommand(run) ? MeshCommand::Kind::kRun
                                      : MeshCommand::Kind::kInit;
  if (cmd->kind == MeshCommand::Kind::kRun && !cmd->all && cmd->node.empty()) {
    *error = "run needs --node NAME or --all";
    return ParseOutcome::kExitError;
  }
  return ParseOutcome::kRun;
}

int RunMeshCommand(const MeshCommand& cmd, const std::string& self) {
  auto topology = LoadTopology(cmd.config);
  if (!topology.ok()) {
    std::cerr << "walapply: " << topology.status().message() << "\n";
    return 2;
  }
  if (cmd.kind == MeshCommand::Kind::kInit) return Init(*topology);
  if (!cmd.all && topology->Find(cmd.node) == nullptr) {
    std::cerr << fmt::format(
        "walapply: run: --node \"{}\" is not a node of topology \"{}\"\n",
        cmd.node, cmd.config);
    return 2;
  }
  return Run(*topology, cmd, self);
}

}  // namespace walapply::app
