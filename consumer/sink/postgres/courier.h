// courier.h
//    A thread that runs its owner's items in order, every item queued
//    meanwhile in one batch.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The owner hands items over with Send() and goes on with other work.  The
// courier's thread passes them to the runner in the order sent: each call
// gets every item queued since the previous call began, so a runner that is
// slower than its owner receives larger batches.  Wait() returns once every
// item sent has been run, WaitFor(n) once the first n have.  An item
// belongs to the courier from Send() until the owner has seen it run
// (run_count() or a wait): the handover and the count are the only points
// where the two threads meet, and each is a full memory barrier (a mutex).
//
// The peer target uses it to send transactions that are runs of inserts
// (a simple query of BEGIN ... COPY ... COMMIT, and the COPY data the
// server asks for) while the next ones are being built: the server goes on
// from one transaction to the next without waiting for this process.

#pragma once

#include <signal.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace walapply::sink::postgres {

template <typename Item>
class Courier {
 public:
  using Runner = std::function<void(std::vector<Item>& batch)>;

  explicit Courier(Runner run) : run_(std::move(run)) {}
  // Runs what was sent, then stops the thread.
  ~Courier() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Courier(const Courier&) = delete;
  Courier& operator=(const Courier&) = delete;

  // Queues `item` for the runner (the thread starts on first use).
  void Send(Item item) {
    if (!thread_.joinable()) {
      // Signals (SIGINT, SIGTERM, SIGHUP) are for the owner's thread, whose
      // waits they interrupt: the courier's thread blocks them all.
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_BLOCK, &all, &old);
      thread_ = std::thread([this] { Run(); });
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(item));
    }
    sent_++;
    cv_.notify_all();
  }
  // Returns once the first `n` items sent have been run.
  void WaitFor(uint64_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this, n] { return run_count_ >= n; });
  }
  // Returns once every item sent has been run (at once when there is none).
  void Wait() { WaitFor(sent_); }
  // How many items have been run since the courier was made.
  uint64_t run_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return run_count_;
  }
  // How many items have been sent (owner only).
  uint64_t sent() const { return sent_; }

 private:
  void Run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left to run
      std::vector<Item> batch;
      batch.swap(queue_);
      lock.unlock();
      run_(batch);
      lock.lock();
      run_count_ += batch.size();
      cv_.notify_all();
    }
  }

  Runner run_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Item> queue_;  // sent, not yet taken by the runner (under mu_)
  uint64_t run_count_ = 0;   // under mu_
  bool stop_ = false;        // under mu_
  uint64_t sent_ = 0;        // owner only
  std::thread thread_;
};

}  // namespace walapply::sink::postgres
