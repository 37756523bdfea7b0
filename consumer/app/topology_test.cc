// topology_test.cc
//    Unit tests of the topology file: validation messages, links, slot
//    names, the plugin options and targets a link gets, table patterns.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "app/topology.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>

#include "sink/postgres/pg_target.h"

namespace walapply::app {

namespace {

// Writes `text` to a temporary file that lives as long as the object.
class TempYaml {
 public:
  explicit TempYaml(const std::string& text) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir != nullptr ? dir : "/tmp") +
            "/walapply-topology-test-XXXXXX";
    int fd = mkstemp(path_.data());
    REQUIRE(fd >= 0);
    close(fd);
    std::ofstream(path_) << text;
  }
  ~TempYaml() { std::remove(path_.c_str()); }
  TempYaml(const TempYaml&) = delete;
  TempYaml& operator=(const TempYaml&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The error of loading `text`, without the "topology \"PATH\": " prefix.
std::string LoadError(const std::string& text) {
  TempYaml f(text);
  auto t = LoadTopology(f.path());
  REQUIRE_FALSE(t.ok());
  std::string prefix = "topology \"" + f.path() + "\": ";
  const std::string& m = t.status().message();
  REQUIRE(m.rfind(prefix, 0) == 0);
  return m.substr(prefix.size());
}

const char kTwo[] = "nodes: {a: \"host=h1 dbname=app\", b: \"host=h2\"}\n";

}  // namespace

TEST_CASE("topology: a full mesh in file order", "[app]") {
  TempYaml f(
      "nodes:\n"
      "  a: \"host=h1 dbname=app\"\n"
      "  b: \"postgresql://h2/app?user=u\"\n"
      "  Cx: \"host=h3\"\n"
      "resolution: first_update_wins\n"
      "tables:\n"
      "  include: [public.*]\n"
      "  exclude: public.audit\n"
      "  resolution: {public.accounts: keep_local}\n"
      "  delta: {public.counters: [hits, misses]}\n"
      "tombstone_retention: 60\n");
  auto t = LoadTopology(f.path());
  REQUIRE(t.ok());
  std::vector<std::string> names;
  for (const Link& l : t->Links())
    names.push_back(l.Name() + " " + SlotName(l));
  CHECK(names == std::vector<std::string>{
                     "a->b wal2proto_a_to_b", "a->Cx wal2proto_a_to_cx",
                     "b->a wal2proto_b_to_a", "b->Cx wal2proto_b_to_cx",
                     "Cx->a wal2proto_cx_to_a", "Cx->b wal2proto_cx_to_b"});
  CHECK(PluginOptions(*t) ==
        std::vector<std::string>{"origin=none", "include-tables=public.*",
                                 "exclude-tables=public.audit, wal2proto.*"});

  std::vector<Link> links = t->Links();
  // b -> a: a conninfo target.
  std::string to_a = TargetUri(*t, links[2]);
  CHECK(to_a ==
        "postgresql:host=h1 dbname=app source=b node=a "
        "resolution=first_update_wins resolution.public.accounts=keep_local "
        "delta.public.counters=hits,misses tombstone_retention=60");
  // a -> b: the URI keeps its query and gets ours appended.
  std::string to_b = TargetUri(*t, links[0]);
  CHECK(to_b ==
        "postgresql://h2/app?user=u&source=a&node=b&resolution=first_update_"
        "wins&resolution.public.accounts=keep_local&delta.public.counters="
        "hits,misses&tombstone_retention=60");
  // Both parse as the peer target reads them.
  for (const std::string& uri : {to_a, to_b}) {
    auto c = sink::postgres::ParseTarget(uri);
    REQUIRE(c.ok());
    CHECK(c->default_policy == sink::postgres::Policy::kFirstUpdateWins);
    CHECK(c->PolicyFor("public", "accounts") ==
          sink::postgres::Policy::kKeepLocal);
    CHECK(c->delta_columns.at("public.counters") ==
          std::vector<std::string>{"hits", "misses"});
    CHECK(c->tombstone_retention_s == 60);
    CHECK(c->applied_tombstones);  // three nodes: every delete leaves one
  }
  CHECK(sink::postgres::ParseTarget(to_a)->conninfo == "host=h1 dbname=app");
  CHECK(sink::postgres::ParseTarget(to_b)->conninfo ==
        "postgresql://h2/app?user=u");

  CHECK(t->Replicates("public", "accounts"));
  CHECK_FALSE(t->Replicates("public", "audit"));
  CHECK_FALSE(t->Replicates("other", "accounts"));
  CHECK_FALSE(t->Replicates("wal2proto", "conflicts"));
}

TEST_CASE("topology: defaults add nothing to the target but the two-node setting",
          "[app]") {
  TempYaml f(kTwo);
  auto t = LoadTopology(f.path());
  REQUIRE(t.ok());
  // Two nodes: each is the other's one peer (see applied_tombstones).
  CHECK(TargetUri(*t, t->Links()[0]) ==
        "postgresql:host=h2 source=a node=b applied_tombstones=off");
  CHECK_FALSE(
      sink::postgres::ParseTarget(TargetUri(*t, t->Links()[0]))->applied_tombstones);
  CHECK(PluginOptions(*t) ==
        std::vector<std::string>{"origin=none", "exclude-tables=wal2proto.*"});
  CHECK(t->Replicates("anything", "at_all"));
}

TEST_CASE("topology: one-line errors name the key and the value", "[app]") {
  CHECK(LoadError("nodes: {a: \"host=x\"}\n") ==
        "nodes: 1 node given; a topology needs at least 2");
  CHECK(LoadError("resolution: last_update_wins\n") ==
        "no \"nodes\" key: name at least two nodes");
  CHECK(LoadError("nodes: {a: \"host=x\", b-c: \"host=y\"}\n") ==
        "nodes: \"b-c\" is not a valid node name (letters, digits and _, at "
        "most 50)");
  CHECK(LoadError(std::string(kTwo) + "colour: blue\n") ==
        "unknown key \"colour\" (nodes, resolution, tables, "
        "tombstone_retention)");
  CHECK(LoadError(std::string(kTwo) + "resolution: newest\n") ==
        "resolution: unknown policy \"newest\" (last_update_wins, "
        "first_update_wins, apply_remote, keep_local, error)");
  CHECK(LoadError(std::string(kTwo) +
                  "tables: {resolution: {public.t: sometimes}}\n") ==
        "tables.resolution.public.t: unknown policy \"sometimes\" "
        "(last_update_wins, first_update_wins, apply_remote, keep_local, "
        "error)");
  CHECK(LoadError(std::string(kTwo) + "tables: {resolution: {t: error}}\n") ==
        "tables.resolution: \"t\" is not SCHEMA.TABLE (letters, digits, _ and "
        "$)");
  CHECK(LoadError(std::string(kTwo) +
                  "tables: {delta: {public.c: [\"a b\"]}}\n") ==
        "tables.delta.public.c: \"a b\" is not a column name (letters, "
        "digits, _ and $)");
  CHECK(LoadError(std::string(kTwo) + "tables: {include: [public]}\n") ==
        "tables.include: invalid pattern \"public\": pattern \"public\" is "
        "not schema-qualified");
  CHECK(LoadError(std::string(kTwo) + "tables: {only: [public.*]}\n") ==
        "tables: unknown key \"only\" (include, exclude, resolution, delta)");
  CHECK(LoadError(std::string(kTwo) + "tombstone_retention: -1\n") ==
        "tombstone_retention \"-1\" is not a number of seconds");
  CHECK(LoadError("nodes: {a: \"host=x\", b: \"bogus\"}\n") ==
        "nodes.b: invalid connection string \"bogus\": missing \"=\" after "
        "\"bogus\" in connection info string");
  CHECK(LoadError("nodes: {a: \"host=x\", A: \"host=y\"}\n") ==
        "nodes: \"A\" differs from another node name only in case (slot "
        "names are lower case)");
  CHECK(LoadError("nodes: {a_to: \"host=w\", b: \"host=x\", a: \"host=y\", "
                  "to_b: \"host=z\"}\n") ==
        "nodes: links a_to->b and a->to_b would both use slot "
        "\"wal2proto_a_to_to_b\": rename a node");
  std::string long_name(30, 'n');
  CHECK(LoadError("nodes: {" + long_name + "1: \"host=x\", " + long_name +
                  "2: \"host=y\"}\n") ==
        "nodes: the slot name \"wal2proto_" + long_name + "1_to_" + long_name +
            "2\" of link " + long_name + "1->" + long_name +
            "2 is longer than 63 characters: use shorter node names");
  CHECK(LoadError("[a, b]\n") == "expected a mapping with a \"nodes\" key");
}

TEST_CASE("table patterns match as the plugin's include-tables", "[app]") {
  std::vector<TablePattern> p;
  std::string error;
  REQUIRE(ParseTablePatterns("Public.*, \"My Schema\".\"Odd,Name\", s.a*b", &p,
                             &error));
  CHECK(TableMatches(p, "public", "anything"));
  CHECK_FALSE(TableMatches(p, "Public", "anything"));  // unquoted folds
  CHECK(TableMatches(p, "My Schema", "Odd,Name"));
  CHECK_FALSE(TableMatches(p, "my schema", "odd,name"));
  CHECK(TableMatches(p, "s", "ab"));
  CHECK(TableMatches(p, "s", "axxb"));
  CHECK_FALSE(TableMatches(p, "s", "abc"));

  p.clear();
  REQUIRE(ParseTablePatterns("s.\"a*\"", &p, &error));  // a quoted * is literal
  CHECK(TableMatches(p, "s", "a*"));
  CHECK_FALSE(TableMatches(p, "s", "ab"));

  p.clear();
  CHECK_FALSE(ParseTablePatterns("a.b.c", &p, &error));
  CHECK(error == "a pattern has more than two parts");
  CHECK_FALSE(ParseTablePatterns("a.b c.d", &p, &error));
  CHECK(error == "patterns must be separated by commas");
  CHECK_FALSE(ParseTablePatterns("s.\"open", &p, &error));
  CHECK(error == "a quoted identifier is not terminated");
  CHECK_FALSE(ParseTablePatterns("s.", &p, &error));
  CHECK(error == "a schema or table name is empty");
}

}  // namespace walapply::app
