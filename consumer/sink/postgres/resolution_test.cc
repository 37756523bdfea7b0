// resolution_test.cc
//    Unit tests of the conflict resolution rules and of postgresql:// target
//    parsing.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/resolution.h"

#include <catch2/catch.hpp>

#include "sink/postgres/pg_target.h"

namespace walapply::sink::postgres {

namespace {

Version V(int64_t t, const char* node) { return Version{t, node}; }

}  // namespace

TEST_CASE("last_update_wins: the later commit wins", "[sink][postgres]") {
  CHECK(RemoteWins(Policy::kLastUpdateWins, V(100, "a"), V(200, "b")));
  CHECK_FALSE(RemoteWins(Policy::kLastUpdateWins, V(200, "a"), V(100, "b")));
  // The node names do not matter when the times differ.
  CHECK(RemoteWins(Policy::kLastUpdateWins, V(100, "z"), V(101, "a")));
}

TEST_CASE("equal commit times: both nodes pick the same winner",
          "[sink][postgres]") {
  // On node a, b's change meets a's row; on node b, a's change meets b's row.
  // Exactly one of the two applies, and it is the same version (b's) on both.
  for (Policy p : {Policy::kLastUpdateWins, Policy::kFirstUpdateWins}) {
    bool on_a = RemoteWins(p, V(500, "a"), V(500, "b"));
    bool on_b = RemoteWins(p, V(500, "b"), V(500, "a"));
    CHECK(on_a != on_b);
  }
  CHECK(RemoteWins(Policy::kLastUpdateWins, V(500, "a"), V(500, "b")));
  CHECK_FALSE(RemoteWins(Policy::kFirstUpdateWins, V(500, "a"), V(500, "b")));
  // The very same version never replaces itself.
  CHECK_FALSE(RemoteWins(Policy::kLastUpdateWins, V(500, "a"), V(500, "a")));
  CHECK_FALSE(RemoteWins(Policy::kFirstUpdateWins, V(500, "a"), V(500, "a")));
}

TEST_CASE("three nodes agree whatever the order of arrival",
          "[sink][postgres]") {
  // Versions of one row made on a, b and c; each node starts from its own
  // and receives the two others in both orders: all end with the same one.
  const Version vs[] = {V(300, "a"), V(300, "c"), V(299, "b")};
  for (Policy p : {Policy::kLastUpdateWins, Policy::kFirstUpdateWins}) {
    int winner = -1;
    for (int own = 0; own < 3; own++) {
      for (int first = 0; first < 3; first++) {
        if (first == own) continue;
        int second = 3 - own - first;
        int held = own;
        if (RemoteWins(p, vs[held], vs[first])) held = first;
        if (RemoteWins(p, vs[held], vs[second])) held = second;
        if (winner < 0) winner = held;
        CHECK(held == winner);
      }
    }
    CHECK(winner == (p == Policy::kLastUpdateWins ? 1 : 2));
  }
}

TEST_CASE("tombstones: an older update loses to a newer delete",
          "[sink][postgres]") {
  Version tombstone = V(1000, "b");  // b deleted the row at 1000
  CHECK_FALSE(RemoteWins(Policy::kLastUpdateWins, tombstone, V(900, "a")));
  CHECK(RemoteWins(Policy::kLastUpdateWins, tombstone, V(1100, "a")));
}

TEST_CASE("unknown commit times count as oldest", "[sink][postgres]") {
  Version unknown{std::nullopt, ""};
  CHECK(RemoteWins(Policy::kLastUpdateWins, unknown, V(-5, "a")));
  CHECK_FALSE(RemoteWins(Policy::kFirstUpdateWins, unknown, V(-5, "a")));
}

TEST_CASE("apply_remote and keep_local ignore the versions",
          "[sink][postgres]") {
  CHECK(RemoteWins(Policy::kApplyRemote, V(200, "a"), V(100, "b")));
  CHECK_FALSE(RemoteWins(Policy::kKeepLocal, V(100, "a"), V(200, "b")));
}

TEST_CASE("policy and conflict names", "[sink][postgres]") {
  for (const char* name : {"last_update_wins", "first_update_wins",
                           "apply_remote", "keep_local", "error"}) {
    auto p = ParsePolicy(name);
    REQUIRE(p);
    CHECK(std::string(PolicyName(*p)) == name);
  }
  CHECK_FALSE(ParsePolicy("newest"));
  CHECK(std::string(ConflictTypeName(ConflictType::kUpdateOriginDiffers)) ==
        "update_origin_differs");
}

TEST_CASE("postgresql:// URIs: our parameters are taken out",
          "[sink][postgres]") {
  auto c = ParseTarget(
      "postgresql://u@h:5/"
      "db?sslmode=disable&source=a&node=b&resolution=keep_local&"
      "resolution.public.t=error&application_name=x");
  REQUIRE(c.ok());
  CHECK(c->conninfo ==
        "postgresql://u@h:5/db?sslmode=disable&application_name=x");
  CHECK(c->source_node == "a");
  CHECK(c->local_node == "b");
  CHECK(c->OriginName() == "wal2proto_a");
  CHECK(c->PolicyFor("public", "t") == Policy::kError);
  CHECK(c->PolicyFor("public", "u") == Policy::kKeepLocal);

  auto bare = ParseTarget("postgres://h/db?source=n1&node=n2");
  REQUIRE(bare.ok());
  CHECK(bare->conninfo == "postgres://h/db");
  CHECK(bare->default_policy == Policy::kLastUpdateWins);
}

TEST_CASE("postgresql targets: counter columns", "[sink][postgres]") {
  auto c = ParseTarget(
      "postgresql://h/db?source=a&node=b&delta.public.c=n,m&delta.s.t=x");
  REQUIRE(c.ok());
  CHECK(c->conninfo == "postgresql://h/db");
  CHECK(c->delta_columns.at("public.c") == std::vector<std::string>{"n", "m"});
  CHECK(c->delta_columns.at("s.t") == std::vector<std::string>{"x"});
  CHECK_FALSE(ParseTarget("postgresql://h/db?source=a&node=b&delta.c=n").ok());
  CHECK_FALSE(ParseTarget("postgresql://h/db?source=a&node=b&delta.s.c=").ok());
}

TEST_CASE("postgresql targets: pipeline and applied_tombstones switches",
          "[sink][postgres]") {
  auto d = ParseTarget("postgresql://h/db?source=a&node=b");
  REQUIRE(d.ok());
  CHECK(d->pipeline);
  CHECK(d->applied_tombstones);  // safe whatever the number of nodes
  auto c = ParseTarget(
      "postgresql://h/db?source=a&node=b&pipeline=off&applied_tombstones=off");
  REQUIRE(c.ok());
  CHECK(c->conninfo == "postgresql://h/db");
  CHECK_FALSE(c->pipeline);
  CHECK_FALSE(c->applied_tombstones);
  auto bad = ParseTarget("postgresql://h/db?source=a&node=b&applied_tombstones=no");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("applied_tombstones \"no\" is not on or off") !=
        std::string::npos);
}

TEST_CASE("postgresql: conninfo strings", "[sink][postgres]") {
  auto c =
      ParseTarget("postgresql:host=h port=5 source=a node=b dbname='my db'");
  REQUIRE(c.ok());
  CHECK(c->conninfo == "host=h port=5 dbname='my db'");
  CHECK(c->source_node == "a");
}

TEST_CASE("postgresql targets: errors", "[sink][postgres]") {
  CHECK_FALSE(ParseTarget("postgresql://h/db?node=b").ok());    // no source
  CHECK_FALSE(ParseTarget("postgresql://h/db?source=a").ok());  // no node
  CHECK_FALSE(ParseTarget("postgresql://h/db?source=a&node=a").ok());  // same
  CHECK_FALSE(
      ParseTarget("postgresql://h/db?source=a-1&node=b").ok());  // bad name
  CHECK_FALSE(
      ParseTarget("postgresql://h/db?source=a&node=b&resolution=x").ok());
  CHECK_FALSE(
      ParseTarget("postgresql://h/db?source=a&node=b&resolution.t=error").ok());
  CHECK_FALSE(ParseTarget("postgresql://h/db?source=%zz&node=b").ok());
  auto st = ParseTarget("postgresql://h/db?node=b");
  CHECK(st.status().message().find("source=NAME") != std::string::npos);
}

}  // namespace walapply::sink::postgres
