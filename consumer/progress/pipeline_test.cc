// pipeline_test.cc
//    Progress with fault-injecting targets: no LSN is confirmed before
//    every target has made its transaction durable.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "progress/pipeline.h"

#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "tests/batch_builder.h"

namespace t = walapply::testing;
using walapply::Status;
using walapply::model::Lsn;
using walapply::progress::Pipeline;

namespace {

// A target that keeps transactions in memory and fails on demand: its
// durable set only grows at a successful Flush, and flushes can fail or make
// only part of what was written durable (a lagging device).
class FaultySink : public walapply::sink::Sink {
 public:
  explicit FaultySink(std::string name, Lsn held = Lsn())
      : name_(std::move(name)) {
    held_commit_ = held;
    durable_end_ = held;
  }
  const std::string& name() const override { return name_; }
  Status Open() override { return Status::Ok(); }
  Lsn HeldCommitLsn() const override { return held_commit_; }
  Lsn HeldMessageLsn() const override { return Lsn(); }
  Status Apply(const walapply::txn::Transaction& txn) override {
    if (fail_apply) return Status::Fatal("injected apply failure");
    pending_.push_back({txn.info.commit_lsn, txn.info.end_lsn});
    applied_commits.push_back(txn.info.commit_lsn);
    held_commit_ = txn.info.commit_lsn;
    return Status::Ok();
  }
  Status ApplyMessage(const walapply::model::Change&) override {
    return Status::Ok();
  }
  Status Flush() override {
    if (fail_flush) return Status::Fatal("injected fsync failure");
    size_t n = partial_flush ? pending_.size() / 2 : pending_.size();
    for (size_t i = 0; i < n; i++) {
      durable_ends.insert(pending_[i].second);
      durable_end_ = pending_[i].second;
    }
    pending_.erase(pending_.begin(), pending_.begin() + n);
    return Status::Ok();
  }
  bool HasUnflushed() const override { return !pending_.empty(); }
  Lsn DurableEndLsn() const override { return durable_end_; }
  Status Close() override { return Status::Ok(); }

  bool fail_apply = false;
  bool fail_flush = false;
  bool partial_flush = false;
  std::vector<Lsn> applied_commits;
  std::set<Lsn> durable_ends;

 private:
  std::string name_;
  Lsn held_commit_;
  Lsn durable_end_;
  std::vector<std::pair<Lsn, Lsn>> pending_;
};

std::string Txn(uint32_t xid, uint64_t commit, bool with_rel) {
  std::vector<t::pb::Message> m;
  m.push_back(t::Begin(xid, commit));
  if (with_rel) {
    m.push_back(t::Relation(1, "public", "t", t::pb::REPLICA_IDENTITY_DEFAULT,
                            {{"id", 23, "integer", true}}));
  }
  m.push_back(t::Insert(1, {t::Int(xid)}));
  m.push_back(t::Commit(xid, commit, commit + 0x10));
  return t::Serialize(m);
}

struct Fixture {
  explicit Fixture(Lsn held_b = Lsn()) {
    auto a = std::make_unique<FaultySink>("a");
    auto b = std::make_unique<FaultySink>("b", held_b);
    sa = a.get();
    sb = b.get();
    std::vector<std::unique_ptr<walapply::sink::Sink>> sinks;
    sinks.push_back(std::move(a));
    sinks.push_back(std::move(b));
    pipeline = std::make_unique<Pipeline>(
        std::move(sinks), walapply::progress::PipelineOptions{});
    REQUIRE(pipeline->OpenSinks().ok());
  }
  FaultySink* sa;
  FaultySink* sb;
  std::unique_ptr<Pipeline> pipeline;
};

}  // namespace

TEST_CASE("nothing is confirmed before every target is durable", "[progress]") {
  Fixture fx;
  REQUIRE(fx.pipeline->OnWrite(Txn(1, 0x100, true), Lsn(0x100)).ok());
  CHECK(fx.pipeline->Confirmable() == Lsn());
  fx.sb->fail_flush = true;
  REQUIRE_FALSE(fx.pipeline->FlushSinks().ok());
  // a is durable, b is not: still nothing.
  CHECK(fx.sa->DurableEndLsn() == Lsn(0x110));
  CHECK(fx.pipeline->Confirmable() == Lsn());
  fx.sb->fail_flush = false;
  REQUIRE(fx.pipeline->FlushSinks().ok());
  CHECK(fx.pipeline->Confirmable() == Lsn(0x110));
}

TEST_CASE("a lagging target holds the confirmed position back", "[progress]") {
  Fixture fx;
  fx.sb->partial_flush = true;
  for (uint32_t i = 1; i <= 8; i++) {
    REQUIRE(
        fx.pipeline->OnWrite(Txn(i, 0x100 * i, i == 1), Lsn(0x100 * i)).ok());
  }
  REQUIRE(fx.pipeline->FlushSinks().ok());
  // b made only the first four durable.
  CHECK(fx.pipeline->Confirmable() == Lsn(0x410));
  fx.sb->partial_flush = false;
  REQUIRE(fx.pipeline->FlushSinks().ok());
  CHECK(fx.pipeline->Confirmable() == Lsn(0x810));
}

TEST_CASE("a failed apply confirms nothing of the failed transaction",
          "[progress]") {
  Fixture fx;
  REQUIRE(fx.pipeline->OnWrite(Txn(1, 0x100, true), Lsn(0x100)).ok());
  REQUIRE(fx.pipeline->FlushSinks().ok());
  fx.sa->fail_apply = true;
  REQUIRE_FALSE(fx.pipeline->OnWrite(Txn(2, 0x200, false), Lsn(0x200)).ok());
  REQUIRE(fx.pipeline->FlushSinks().ok());
  CHECK(fx.pipeline->Confirmable() == Lsn(0x110));
}

TEST_CASE("random faults never confirm past any target's durable set",
          "[progress]") {
  std::mt19937 rng(12345);
  for (int round = 0; round < 50; round++) {
    Fixture fx;
    uint32_t xid = 1;
    Lsn last_confirmed;
    for (int step = 0; step < 200; step++) {
      int what = rng() % 10;
      fx.sa->fail_flush = rng() % 4 == 0;
      fx.sb->fail_flush = rng() % 4 == 0;
      fx.sa->partial_flush = rng() % 3 == 0;
      fx.sb->partial_flush = rng() % 3 == 0;
      if (what < 6) {
        REQUIRE(fx.pipeline
                    ->OnWrite(Txn(xid, 0x100 * xid, xid == 1), Lsn(0x100 * xid))
                    .ok());
        xid++;
      } else {
        fx.pipeline->FlushSinks().IgnoreError();  // failures are the point
      }
      Lsn c = fx.pipeline->Confirmable();
      REQUIRE(c >= last_confirmed);  // forward only
      last_confirmed = c;
      if (c.valid()) {
        // Every transaction ending at or before c is durable in both.
        for (FaultySink* s : {fx.sa, fx.sb}) {
          for (Lsn commit : s->applied_commits) {
            Lsn end(commit.value() + 0x10);
            if (end <= c) REQUIRE(s->durable_ends.count(end) == 1);
          }
        }
      }
    }
  }
}

TEST_CASE("an undecided prepared transaction caps the confirmed position",
          "[progress]") {
  Fixture fx;
  REQUIRE(fx.pipeline->OnWrite(Txn(1, 0x100, true), Lsn(0x100)).ok());
  REQUIRE(fx.pipeline
              ->OnWrite(t::Serialize({t::BeginPrepare(2, 0x200, "gx"),
                                      t::Insert(1, {t::Int(2)}),
                                      t::Prepare(2, 0x200, "gx")}),
                        Lsn(0x200))
              .ok());
  REQUIRE(fx.pipeline->OnWrite(Txn(3, 0x300, false), Lsn(0x300)).ok());
  REQUIRE(fx.pipeline->FlushSinks().ok());
  CHECK(fx.pipeline->Confirmable() == Lsn(0x200));
  REQUIRE(
      fx.pipeline
          ->OnWrite(t::Serialize({t::CommitPrepared(2, 0x400, 0x410, "gx")}),
                    Lsn(0x400))
          .ok());
  REQUIRE(fx.pipeline->FlushSinks().ok());
  CHECK(fx.pipeline->Confirmable() == Lsn(0x410));
}

TEST_CASE("transactions a target already holds are not written again",
          "[progress]") {
  Fixture fx(Lsn(0x200));  // b holds up to commit 0x200
  for (uint32_t i = 1; i <= 4; i++) {
    REQUIRE(
        fx.pipeline->OnWrite(Txn(i, 0x100 * i, i == 1), Lsn(0x100 * i)).ok());
  }
  CHECK(fx.sa->applied_commits.size() == 4);
  REQUIRE(fx.sb->applied_commits.size() == 2);
  CHECK(fx.sb->applied_commits[0] == Lsn(0x300));
  CHECK(fx.sb->applied_commits[1] == Lsn(0x400));
}

TEST_CASE("endpos stops before a transaction committed past it", "[progress]") {
  auto a = std::make_unique<FaultySink>("a");
  FaultySink* sa = a.get();
  std::vector<std::unique_ptr<walapply::sink::Sink>> sinks;
  sinks.push_back(std::move(a));
  walapply::progress::PipelineOptions o;
  o.endpos = Lsn(0x250);
  Pipeline p(std::move(sinks), o);
  REQUIRE(p.OpenSinks().ok());
  for (uint32_t i = 1; i <= 4 && !p.endpos_reached(); i++) {
    REQUIRE(p.OnWrite(Txn(i, 0x100 * i, i == 1), Lsn(0x100 * i)).ok());
  }
  CHECK(p.endpos_reached());
  CHECK(sa->applied_commits.size() == 2);
}
