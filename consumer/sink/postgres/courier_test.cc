// courier_test.cc
//    Unit tests of the courier thread.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/courier.h"

#include <catch2/catch.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace walapply::sink::postgres {

TEST_CASE("a courier runs every item on its own thread, in the order sent, "
          "and Wait returns once all have run",
          "[sink]") {
  std::vector<int> order;  // written by the courier's thread only
  std::thread::id ran_on;
  Courier<int> courier([&](std::vector<int>& batch) {
    // Slow enough that a Wait that did not wait would see items unrun.
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    for (int i : batch) order.push_back(i);
    ran_on = std::this_thread::get_id();
  });
  courier.Wait();  // nothing sent: returns at once
  CHECK(courier.sent() == 0);
  CHECK(courier.run_count() == 0);

  for (int i = 0; i < 50; i++) courier.Send(i);
  CHECK(courier.sent() == 50);
  courier.Wait();
  CHECK(courier.run_count() == 50);
  REQUIRE(order.size() == 50);
  for (int i = 0; i < 50; i++) CHECK(order[i] == i);
  CHECK(ran_on != std::this_thread::get_id());
}

TEST_CASE("a courier hands the runner every item queued while it was busy, "
          "in one batch",
          "[sink]") {
  std::mutex gate;  // held by the test: the runner's first call waits on it
  std::atomic<bool> entered{false};
  std::vector<std::vector<int>> batches;
  std::unique_lock<std::mutex> hold(gate);
  Courier<int> courier([&](std::vector<int>& batch) {
    entered = true;
    std::lock_guard<std::mutex> pass(gate);
    batches.push_back(batch);
  });
  courier.Send(1);
  // Once the runner holds item 1, three more queue behind it.
  while (!entered) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  courier.Send(2);
  courier.Send(3);
  courier.Send(4);
  CHECK(courier.run_count() == 0);  // the runner is held at the gate
  hold.unlock();
  courier.WaitFor(1);
  CHECK(courier.run_count() >= 1);
  courier.Wait();
  CHECK(courier.run_count() == 4);
  REQUIRE(batches.size() == 2);
  CHECK(batches[0] == std::vector<int>{1});
  CHECK(batches[1] == std::vector<int>{2, 3, 4});
}

TEST_CASE("a courier's thread blocks signals, which stay for its owner",
          "[sink]") {
  sigset_t mask;
  Courier<int> courier([&mask](std::vector<int>&) {
    pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  });
  courier.Send(0);
  courier.Wait();
  CHECK(sigismember(&mask, SIGINT) == 1);
  CHECK(sigismember(&mask, SIGTERM) == 1);
  CHECK(sigismember(&mask, SIGHUP) == 1);
  sigset_t mine;
  pthread_sigmask(SIG_BLOCK, nullptr, &mine);
  CHECK(sigismember(&mine, SIGINT) == 0);  // the owner's mask is unchanged
}

TEST_CASE("a courier destroyed with items in flight runs them all first",
          "[sink]") {
  std::atomic<int> done{0};
  {
    Courier<int> courier([&done](std::vector<int>& batch) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      done += static_cast<int>(batch.size());
    });
    courier.Send(0);
    courier.Send(1);
    courier.Send(2);
  }
  CHECK(done == 3);
}

}  // namespace walapply::sink::postgres
