// main.cc
//    Entry point of the walapply unit tests (Catch2).
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
