// lsn_test.cc
//    Unit tests of Lsn parsing and printing.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "model/lsn.h"

#include <catch2/catch.hpp>

using walapply::model::Lsn;

TEST_CASE("Lsn parses and prints X/X", "[model]") {
  auto l = Lsn::Parse("16/B374D848");
  REQUIRE(l.has_value());
  CHECK(l->value() == 0x16B374D848ULL);
  CHECK(l->ToString() == "16/B374D848");
  CHECK(Lsn::Parse("0/0")->value() == 0);
  CHECK(Lsn::Parse("FFFFFFFF/FFFFFFFF")->value() == ~0ULL);
  CHECK(Lsn::Parse("ffffffff/1")->ToString() == "FFFFFFFF/1");
  CHECK(Lsn(0x100000000ULL).ToString() == "1/0");
  CHECK(Lsn().ToString() == "0/0");
}

TEST_CASE("Lsn rejects malformed text", "[model]") {
  for (const char* bad :
       {"", "/", "1/", "/1", "1", "1//2", "G/0", "0/G", "123456789/0",
        "0/123456789", " 1/2", "1/2 ", "-1/2", "1/2/3", "0x1/2"}) {
    INFO(bad);
    CHECK_FALSE(Lsn::Parse(bad).has_value());
  }
}

TEST_CASE("Lsn orders as a 64-bit number", "[model]") {
  CHECK(*Lsn::Parse("1/0") > *Lsn::Parse("0/FFFFFFFF"));
  CHECK(*Lsn::Parse("0/10") < *Lsn::Parse("0/11"));
  CHECK(Lsn(5) == *Lsn::Parse("0/5"));
}
