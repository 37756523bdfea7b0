// courier.h
//    A thread that runs one job at a time on behalf of its owner.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The owner hands a job over with Send() and goes on with other work; Wait()
// returns once the job has run.  Between the two the owner must not touch
// anything the job uses: the handover and the wait are the only points where
// the two threads meet, and each is a full memory barrier (a mutex).
//
// The peer target uses it to feed a transaction's COPY statements to the
// server, which asks for each one's data in turn, while the next
// transaction is being built.

#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace walapply::sink::postgres {

class Courier {
 public:
  Courier() = default;
  ~Courier();
  Courier(const Courier&) = delete;
  Courier& operator=(const Courier&) = delete;

  // Runs `job` on the courier's thread (started on first use).  The job
  // before it must have been waited for.
  void Send(std::function<void()> job);
  // Returns when the job sent last has run (at once when there is none).
  void Wait();
  bool busy() const { return busy_; }

 private:
  void Run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void()> job_;
  bool busy_ = false;   // a job was sent and not waited for (owner only)
  bool done_ = true;    // the job sent last has run (under mu_)
  bool stop_ = false;   // under mu_
  std::thread thread_;
};

}  // namespace walapply::sink::postgres
