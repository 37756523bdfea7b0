// courier.cc
//    A thread that runs one job at a time on behalf of its owner.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/courier.h"

#include <signal.h>

#include <utility>

namespace walapply::sink::postgres {

Courier::~Courier() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Courier::Send(std::function<void()> job) {
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
    job_ = std::move(job);
    done_ = false;
  }
  busy_ = true;
  cv_.notify_all();
}

void Courier::Wait() {
  if (!busy_) return;
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return done_; });
  busy_ = false;
}

void Courier::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || job_; });
    if (!job_) return;  // stopping, nothing left to run
    std::function<void()> job = std::move(job_);
    job_ = nullptr;
    lock.unlock();
    job();
    lock.lock();
    done_ = true;
    cv_.notify_all();
  }
}

}  // namespace walapply::sink::postgres
