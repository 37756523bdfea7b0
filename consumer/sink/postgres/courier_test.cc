// courier_test.cc
//    Unit tests of the courier thread.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/courier.h"

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace walapply::sink::postgres {

TEST_CASE("a courier runs each job on its own thread, one at a time, and "
          "Wait returns once it has run",
          "[sink]") {
  Courier courier;
  CHECK_FALSE(courier.busy());
  courier.Wait();  // nothing sent: returns at once

  std::vector<int> order;
  std::thread::id ran_on;
  for (int i = 0; i < 100; i++) {
    courier.Send([&order, &ran_on, i] {
      // Slow enough that a Wait that did not wait would see it unfinished.
      if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      order.push_back(i);
      ran_on = std::this_thread::get_id();
    });
    CHECK(courier.busy());
    courier.Wait();
    CHECK_FALSE(courier.busy());
    REQUIRE(order.size() == static_cast<size_t>(i + 1));
    CHECK(order.back() == i);
    CHECK(ran_on != std::this_thread::get_id());
  }
}

TEST_CASE("a courier's thread blocks signals, which stay for its owner",
          "[sink]") {
  Courier courier;
  sigset_t mask;
  courier.Send([&mask] { pthread_sigmask(SIG_BLOCK, nullptr, &mask); });
  courier.Wait();
  CHECK(sigismember(&mask, SIGINT) == 1);
  CHECK(sigismember(&mask, SIGTERM) == 1);
  CHECK(sigismember(&mask, SIGHUP) == 1);
  sigset_t mine;
  pthread_sigmask(SIG_BLOCK, nullptr, &mine);
  CHECK(sigismember(&mine, SIGINT) == 0);  // the owner's mask is unchanged
}

TEST_CASE("a courier destroyed with a job in flight finishes it first",
          "[sink]") {
  std::atomic<bool> done{false};
  {
    Courier courier;
    courier.Send([&done] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      done = true;
    });
  }
  CHECK(done);
}

}  // namespace walapply::sink::postgres
