// config_test.cc
//    Unit tests of mongodb:// target URIs.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/mongodb/config.h"

#include <catch2/catch.hpp>

namespace m = walapply::sink::mongodb;

TEST_CASE("walapply's parameters are taken out of the MongoDB URI",
          "[sink][mongodb]") {
  auto c = m::ParseTarget(
      "mongodb://127.0.0.1:1/"
      "?appname=x&slot=s1&nulls=absent&keepKeyColumns=false&w=1");
  REQUIRE(c.ok());
  CHECK(c->mongo_uri == "mongodb://127.0.0.1:1/?appname=x&w=1");
  CHECK(c->progress_key == "s1");
  CHECK(c->mapping.null_absent);
  CHECK_FALSE(c->mapping.keep_key_columns);

  auto plain = m::ParseTarget("mongodb://h/");
  REQUIRE(plain.ok());
  CHECK(plain->mongo_uri == "mongodb://h/");
  CHECK(plain->progress_key == "walapply");

  CHECK_FALSE(m::ParseTarget("mongodb://h/?nulls=maybe").ok());
  CHECK_FALSE(m::ParseTarget("mongodb://h/?config=/nonexistent/x.yaml").ok());
}
