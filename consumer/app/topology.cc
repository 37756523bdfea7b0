// topology.cc
//    A many-master topology: the nodes of a full mesh and the link settings,
//    read from a YAML file.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "app/topology.h"

#include <fmt/format.h>
#include <libpq-fe.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <memory>
#include <set>

#include "sink/postgres/pg_target.h"
#include "sink/postgres/resolution.h"

namespace walapply::app {

namespace {

// PostgreSQL's NAMEDATALEN - 1: the longest slot name.
constexpr size_t kMaxSlotName = 63;

const char kPolicies[] =
    "last_update_wins, first_update_wins, apply_remote, keep_local, error";

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)); }

bool IsIdentChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$';
}

bool ValidIdent(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsIdentChar(c)) return false;
  }
  return true;
}

// "schema.table" of plain identifier characters, as the target parameters
// resolution.SCHEMA.TABLE and delta.SCHEMA.TABLE carry them.
bool ValidTableName(const std::string& s) {
  size_t dot = s.find('.');
  return dot != std::string::npos && ValidIdent(s.substr(0, dot)) &&
         ValidIdent(s.substr(dot + 1));
}

std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One part of a pattern from *pos (see plugin/options.c, which this follows).
bool ParsePatternPart(const std::string& text, size_t* pos, std::string* out,
                      std::string* error) {
  size_t p = *pos;
  out->clear();
  while (p < text.size() && text[p] != ',' && text[p] != '.' &&
         !IsSpace(text[p])) {
    if (text[p] == '"') {
      p++;
      for (;;) {
        if (p >= text.size()) {
          *error = "a quoted identifier is not terminated";
          return false;
        }
        if (text[p] == '"') {
          if (p + 1 >= text.size() || text[p + 1] != '"') break;
          p++;
        }
        if (text[p] == '*' || text[p] == '\\') out->push_back('\\');
        out->push_back(text[p]);
        p++;
      }
      p++;  // closing quote
    } else {
      if (text[p] == '\\') out->push_back('\\');
      out->push_back(
          static_cast<char>(std::tolower(static_cast<unsigned char>(text[p]))));
      p++;
    }
  }
  if (out->empty()) {
    *error = "a schema or table name is empty";
    return false;
  }
  *pos = p;
  return true;
}

// '*' matches any run; '\' escapes the next byte.
bool GlobMatch(const std::string& pat, const std::string& str) {
  size_t p = 0, s = 0;
  size_t star_p = std::string::npos, star_s = 0;
  while (s < str.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star_p = ++p;
      star_s = s;
      continue;
    }
    if (p + 1 < pat.size() && pat[p] == '\\') {
      if (pat[p + 1] == str[s]) {
        p += 2;
        s++;
        continue;
      }
    } else if (p < pat.size() && pat[p] == str[s]) {
      p++;
      s++;
      continue;
    }
    if (star_p == std::string::npos) return false;
    p = star_p;
    s = ++star_s;
  }
  while (p < pat.size() && pat[p] == '*') p++;
  return p == pat.size();
}

// Appends a YAML scalar or sequence of strings to *out.
void ReadStrings(const YAML::Node& v, std::vector<std::string>* out) {
  if (v.IsSequence()) {
    for (const auto& item : v) out->push_back(item.as<std::string>());
  } else {
    out->push_back(v.as<std::string>());
  }
}

std::string Join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const std::string& s : items) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string PercentEncode(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
        c == '-' || c == ',') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

class Loader {
 public:
  explicit Loader(const std::string& path) { t_.path = path; }

  Result<Topology> Load();

 private:
  Status Error(const std::string& what) const {
    return Status::Fatal(fmt::format("topology \"{}\": {}", t_.path, what));
  }
  Status Nodes(const YAML::Node& v);
  Status Tables(const YAML::Node& v);
  Status Patterns(const char* key, const YAML::Node& v,
                  std::vector<std::string>* text,
                  std::vector<TablePattern>* parsed);
  Status CheckPolicy(const std::string& key, const std::string& value) const;
  Status CheckSlots() const;

  Topology t_;
};

Result<Topology> Loader::Load() {
  YAML::Node root;
  try {
    root = YAML::LoadFile(t_.path);
  } catch (const YAML::Exception& e) {
    return Status::Fatal(
        fmt::format("could not read topology \"{}\": {}", t_.path, e.what()));
  }
  if (!root.IsMap()) return Error("expected a mapping with a \"nodes\" key");
  bool have_nodes = false;
  try {
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "nodes") {
        have_nodes = true;
        WALAPPLY_RETURN_IF_ERROR(Nodes(v));
      } else if (key == "resolution") {
        std::string policy = v.as<std::string>();
        WALAPPLY_RETURN_IF_ERROR(CheckPolicy("resolution", policy));
        t_.resolution = policy;
      } else if (key == "tables") {
        WALAPPLY_RETURN_IF_ERROR(Tables(v));
      } else if (key == "tombstone_retention") {
        std::string text = v.as<std::string>();
        char* end = nullptr;
        long long s = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || *end != '\0' || s < 0) {
          return Error(fmt::format(
              "tombstone_retention \"{}\" is not a number of seconds", text));
        }
        t_.tombstone_retention_s = s;
      } else {
        return Error(
            fmt::format("unknown key \"{}\" (nodes, resolution, tables, "
                        "tombstone_retention)",
                        key));
      }
    }
  } catch (const YAML::Exception& e) {
    return Error(fmt::format("bad value: {}", e.what()));
  }
  if (!have_nodes) return Error("no \"nodes\" key: name at least two nodes");
  std::string unused;  // a constant pattern: cannot fail
  ParseTablePatterns("wal2proto.*", &t_.exclude_parsed, &unused);
  WALAPPLY_RETURN_IF_ERROR(CheckSlots());
  return std::move(t_);
}

Status Loader::Nodes(const YAML::Node& v) {
  if (!v.IsMap()) {
    return Error("nodes: expected a mapping of node name to connection string");
  }
  std::set<std::string> lower_names;
  for (const auto& kv : v) {
    TopologyNode node;
    node.name = kv.first.as<std::string>();
    if (!sink::postgres::ValidNodeName(node.name)) {
      return Error(fmt::format(
          "nodes: \"{}\" is not a valid node name (letters, digits and _, at "
          "most 50)",
          node.name));
    }
    if (!kv.second.IsScalar()) {
      return Error(fmt::format(
          "nodes.{}: expected a connection string (conninfo or URI)",
          node.name));
    }
    node.conninfo = kv.second.as<std::string>();
    char* errmsg = nullptr;
    PQconninfoOption* opts = PQconninfoParse(node.conninfo.c_str(), &errmsg);
    if (opts == nullptr) {
      std::string why = errmsg != nullptr ? errmsg : "out of memory";
      PQfreemem(errmsg);
      while (!why.empty() && IsSpace(why.back())) why.pop_back();
      return Error(fmt::format("nodes.{}: invalid connection string \"{}\": {}",
                               node.name, node.conninfo, why));
    }
    PQconninfoFree(opts);
    if (!lower_names.insert(Lower(node.name)).second) {
      return Error(fmt::format(
          "nodes: \"{}\" differs from another node name only in case (slot "
          "names are lower case)",
          node.name));
    }
    t_.nodes.push_back(std::move(node));
  }
  if (t_.nodes.size() < 2) {
    return Error(
        fmt::format("nodes: {} node{} given; a topology needs at least 2",
                    t_.nodes.size(), t_.nodes.size() == 1 ? "" : "s"));
  }
  return Status::Ok();
}

Status Loader::Patterns(const char* key, const YAML::Node& v,
                        std::vector<std::string>* text,
                        std::vector<TablePattern>* parsed) {
  std::vector<std::string> items;
  ReadStrings(v, &items);
  for (const std::string& item : items) {
    std::string error;
    if (!ParseTablePatterns(item, parsed, &error)) {
      return Error(fmt::format("tables.{}: invalid pattern \"{}\": {}", key,
                               item, error));
    }
    text->push_back(item);
  }
  return Status::Ok();
}

Status Loader::CheckPolicy(const std::string& key,
                           const std::string& value) const {
  if (!sink::postgres::ParsePolicy(value)) {
    return Error(
        fmt::format("{}: unknown policy \"{}\" ({})", key, value, kPolicies));
  }
  return Status::Ok();
}

Status Loader::Tables(const YAML::Node& v) {
  if (!v.IsMap()) {
    return Error(
        "tables: expected a mapping (include, exclude, resolution, delta)");
  }
  for (const auto& kv : v) {
    std::string key = kv.first.as<std::string>();
    const YAML::Node& val = kv.second;
    if (key == "include") {
      WALAPPLY_RETURN_IF_ERROR(
          Patterns("include", val, &t_.include, &t_.include_parsed));
    } else if (key == "exclude") {
      WALAPPLY_RETURN_IF_ERROR(
          Patterns("exclude", val, &t_.exclude, &t_.exclude_parsed));
    } else if (key == "resolution" || key == "delta") {
      if (!val.IsMap()) {
        return Error(fmt::format(
            "tables.{}: expected a mapping of SCHEMA.TABLE to {}", key,
            key == "resolution" ? "a policy" : "counter columns"));
      }
      for (const auto& tv : val) {
        std::string table = tv.first.as<std::string>();
        if (!ValidTableName(table)) {
          return Error(fmt::format(
              "tables.{}: \"{}\" is not SCHEMA.TABLE (letters, digits, _ and "
              "$)",
              key, table));
        }
        if (key == "resolution") {
          std::string policy = tv.second.as<std::string>();
          WALAPPLY_RETURN_IF_ERROR(
              CheckPolicy("tables.resolution." + table, policy));
          t_.table_resolution[table] = policy;
          continue;
        }
        std::vector<std::string> cols, raw;
        ReadStrings(tv.second, &raw);
        for (const std::string& r : raw) {
          size_t pos = 0;
          while (pos <= r.size()) {
            size_t comma = r.find(',', pos);
            if (comma == std::string::npos) comma = r.size();
            std::string col = r.substr(pos, comma - pos);
            while (!col.empty() && IsSpace(col.back())) col.pop_back();
            while (!col.empty() && IsSpace(col.front())) col.erase(0, 1);
            if (!ValidIdent(col)) {
              return Error(fmt::format(
                  "tables.delta.{}: \"{}\" is not a column name (letters, "
                  "digits, _ and $)",
                  table, col));
            }
            cols.push_back(col);
            pos = comma + 1;
          }
        }
        t_.delta[table] = cols;
      }
    } else {
      return Error(fmt::format(
          "tables: unknown key \"{}\" (include, exclude, resolution, delta)",
          key));
    }
  }
  return Status::Ok();
}

Status Loader::CheckSlots() const {
  std::map<std::string, std::string> seen;  // slot -> link
  for (const Link& link : t_.Links()) {
    std::string slot = SlotName(link);
    if (slot.size() > kMaxSlotName) {
      return Error(fmt::format(
          "nodes: the slot name \"{}\" of link {} is longer than {} "
          "characters: use shorter node names",
          slot, link.Name(), kMaxSlotName));
    }
    auto [it, fresh] = seen.emplace(slot, link.Name());
    if (!fresh) {
      return Error(fmt::format(
          "nodes: links {} and {} would both use slot \"{}\": rename a node",
          it->second, link.Name(), slot));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string Link::Name() const { return source->name + "->" + target->name; }

const TopologyNode* Topology::Find(const std::string& name) const {
  for (const TopologyNode& n : nodes) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

std::vector<Link> Topology::Links() const {
  std::vector<Link> links;
  for (const TopologyNode& s : nodes) {
    for (const TopologyNode& t : nodes) {
      if (&s != &t) links.push_back(Link{&s, &t});
    }
  }
  return links;
}

bool Topology::Replicates(const std::string& schema,
                          const std::string& table) const {
  return (include_parsed.empty() ||
          TableMatches(include_parsed, schema, table)) &&
         !TableMatches(exclude_parsed, schema, table);
}

Result<Topology> LoadTopology(const std::string& path) {
  return Loader(path).Load();
}

std::string SlotName(const Link& link) {
  return "wal2proto_" + Lower(link.source->name) + "_to_" +
         Lower(link.target->name);
}

std::vector<std::string> PluginOptions(const Topology& topology) {
  std::vector<std::string> opts = {"origin=none"};
  if (!topology.include.empty()) {
    opts.push_back("include-tables=" + Join(topology.include, ", "));
  }
  std::vector<std::string> exclude = topology.exclude;
  exclude.push_back("wal2proto.*");
  opts.push_back("exclude-tables=" + Join(exclude, ", "));
  return opts;
}

std::string TargetUri(const Topology& topology, const Link& link) {
  std::vector<std::pair<std::string, std::string>> params = {
      {"source", link.source->name}, {"node", link.target->name}};
  if (topology.resolution)
    params.emplace_back("resolution", *topology.resolution);
  for (const auto& [table, policy] : topology.table_resolution) {
    params.emplace_back("resolution." + table, policy);
  }
  for (const auto& [table, cols] : topology.delta) {
    params.emplace_back("delta." + table, Join(cols, ","));
  }
  if (topology.tombstone_retention_s) {
    params.emplace_back("tombstone_retention",
                        std::to_string(*topology.tombstone_retention_s));
  }
  // Two nodes: each is the other's one peer, and a delete it applies can
  // never meet an older change from a third node.
  if (topology.nodes.size() == 2) params.emplace_back("applied_tombstones", "off");
  const std::string& c = link.target->conninfo;
  std::string uri;
  if (c.rfind("postgresql://", 0) == 0 || c.rfind("postgres://", 0) == 0) {
    uri = c;
    char sep = c.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [k, v] : params) {
      uri += sep + k + "=" + PercentEncode(v);
      sep = '&';
    }
  } else {
    // Names and values are identifiers, numbers and commas: no quoting.
    uri = "postgresql:" + c;
    for (const auto& [k, v] : params) uri += " " + k + "=" + v;
  }
  return uri;
}

bool ParseTablePatterns(const std::string& text, std::vector<TablePattern>* out,
                        std::string* error) {
  size_t p = 0;
  for (;;) {
    TablePattern pat;
    while (p < text.size() && IsSpace(text[p])) p++;
    if (!ParsePatternPart(text, &p, &pat.schema, error)) return false;
    if (p >= text.size() || text[p] != '.') {
      *error =
          fmt::format("pattern \"{}\" is not schema-qualified", pat.schema);
      return false;
    }
    p++;
    if (!ParsePatternPart(text, &p, &pat.table, error)) return false;
    if (p < text.size() && text[p] == '.') {
      *error = "a pattern has more than two parts";
      return false;
    }
    out->push_back(pat);
    while (p < text.size() && IsSpace(text[p])) p++;
    if (p >= text.size()) break;
    if (text[p] != ',') {
      *error = "patterns must be separated by commas";
      return false;
    }
    p++;
  }
  return true;
}

bool TableMatches(const std::vector<TablePattern>& patterns,
                  const std::string& schema, const std::string& table) {
  for (const TablePattern& p : patterns) {
    if (GlobMatch(p.schema, schema) && GlobMatch(p.table, table)) return true;
  }
  return false;
}

}  // namespace walapply::app
