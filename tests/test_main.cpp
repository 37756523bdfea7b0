// test_main.cpp
//    The Catch2 main of the plugin's C++ tests.

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
