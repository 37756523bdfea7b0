// golden_test.cpp (placeholder until golden files exist)
#include <catch2/catch.hpp>
