// assembler_test.cc
//    Unit tests of transaction assembly, spilling included.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "txn/assembler.h"

#include <catch2/catch.hpp>

#include "tests/batch_builder.h"

namespace t = walapply::testing;
using walapply::Status;
using walapply::decode::Decoder;
using walapply::decode::Event;
using walapply::model::Change;
using walapply::model::Lsn;
using walapply::txn::Assembler;
using walapply::txn::BufferOptions;
using walapply::txn::Transaction;

namespace {

struct Harness {
  explicit Harness(size_t limit = 16u << 20)
      : assembler(
            BufferOptions{limit, ""},
            [this](Transaction& txn) {
              std::vector<int64_t> ids;
              Status st = txn.changes->ForEach([&](const Change& c) {
                ids.push_back(c.new_tuple ? c.new_tuple->values(0).int_value()
                                          : c.old_tuple->values(0).int_value());
                return Status::Ok();
              });
              REQUIRE(st.ok());
              delivered.emplace_back(txn.info, ids);
              spilled += txn.changes->spilled_count();
              return Status::Ok();
            },
            [](const Change&) { return Status::Ok(); }) {}

  Status Feed(const std::vector<t::pb::Message>& msgs) {
    std::vector<Event> ev;
    Status st = decoder.Decode(t::Serialize(msgs), Lsn(0x99), &ev);
    if (!st.ok()) return st;
    for (Event& e : ev) {
      st = assembler.Handle(std::move(e), Lsn(0x99));
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  Decoder decoder;
  Assembler assembler;
  std::vector<std::pair<walapply::model::TxnInfo, std::vector<int64_t>>>
      delivered;
  size_t spilled = 0;
};

t::pb::Message Rel() {
  return t::Relation(1, "public", "t", t::pb::REPLICA_IDENTITY_DEFAULT,
                     {{"id", 20, "bigint", true}, {"v", 25, "text", false}});
}

}  // namespace

TEST_CASE("committed transactions are delivered whole", "[txn]") {
  Harness h;
  REQUIRE(h.Feed({t::Begin(10, 0x100), Rel(),
                  t::Insert(1, {t::Int(1), t::Text("a")})})
              .ok());
  CHECK(h.delivered.empty());
  CHECK(h.assembler.InTransaction());
  REQUIRE(h.Feed({t::Insert(1, {t::Int(2), t::Text("b")}),
                  t::Commit(10, 0x100, 0x120)})
              .ok());
  REQUIRE(h.delivered.size() == 1);
  CHECK(h.delivered[0].first.commit_lsn == Lsn(0x100));
  CHECK(h.delivered[0].first.end_lsn == Lsn(0x120));
  CHECK(h.delivered[0].second == std::vector<int64_t>{1, 2});
  CHECK(h.assembler.Idle());
}

TEST_CASE("a large transaction spills and comes back in order", "[txn]") {
  Harness h(64 * 1024);
  REQUIRE(h.Feed({t::Begin(11, 0x200), Rel()}).ok());
  for (int i = 0; i < 20000; i++) {
    REQUIRE(h.Feed({t::Insert(1, {t::Int(i), t::Text(std::string(50, 'x'))})})
                .ok());
  }
  REQUIRE(h.Feed({t::Commit(11, 0x200, 0x210)}).ok());
  REQUIRE(h.delivered.size() == 1);
  CHECK(h.spilled > 10000);
  const auto& ids = h.delivered[0].second;
  REQUIRE(ids.size() == 20000);
  for (int i = 0; i < 20000; i++) REQUIRE(ids[i] == i);
}

TEST_CASE("streamed transactions drop aborted subtransactions", "[txn]") {
  Harness h(4096);  // small, so the streamed changes spill too
  REQUIRE(h.Feed({t::StreamStart(50, true), Rel(),
                  t::Insert(1, {t::Int(1), t::Text("a")}, 50),
                  t::Insert(1, {t::Int(2), t::Text("b")}, 51), t::StreamStop()})
              .ok());
  REQUIRE(
      h.Feed({t::StreamStart(60, true),
              t::Insert(1, {t::Int(100), t::Text("z")}, 60), t::StreamStop()})
          .ok());
  std::vector<t::pb::Message> many = {t::StreamStart(50, false)};
  for (int i = 3; i < 200; i++)
    many.push_back(t::Insert(1, {t::Int(i), t::Text("c")}, i % 2 ? 52 : 50));
  many.push_back(t::StreamStop());
  REQUIRE(h.Feed(many).ok());
  REQUIRE(h.Feed({t::StreamAbort(50, 52), t::StreamAbort(60, 60)}).ok());
  CHECK(h.assembler.open_stream_count() == 1);
  REQUIRE(h.Feed({t::StreamCommit(50, 0x300, 0x310)}).ok());
  REQUIRE(h.delivered.size() == 1);
  std::vector<int64_t> want = {1, 2};
  for (int i = 3; i < 200; i++)
    if (i % 2 == 0) want.push_back(i);
  CHECK(h.delivered[0].second == want);
  CHECK(h.assembler.Idle());
}

TEST_CASE("two-phase transactions apply at COMMIT PREPARED only", "[txn]") {
  Harness h;
  REQUIRE(h.Feed({t::BeginPrepare(70, 0x400, "g1"), Rel(),
                  t::Insert(1, {t::Int(7), t::Text("p")}),
                  t::Prepare(70, 0x400, "g1")})
              .ok());
  REQUIRE(h.Feed({t::BeginPrepare(71, 0x500, "g2"),
                  t::Insert(1, {t::Int(8), t::Text("q")}),
                  t::Prepare(71, 0x500, "g2")})
              .ok());
  CHECK(h.delivered.empty());
  REQUIRE(h.assembler.OldestPendingPrepare().has_value());
  CHECK(*h.assembler.OldestPendingPrepare() == Lsn(0x400));
  REQUIRE(h.Feed({t::RollbackPrepared(70, "g1")}).ok());
  CHECK(*h.assembler.OldestPendingPrepare() == Lsn(0x500));
  REQUIRE(h.Feed({t::CommitPrepared(71, 0x600, 0x610, "g2")}).ok());
  REQUIRE(h.delivered.size() == 1);
  CHECK(h.delivered[0].first.gid == "g2");
  CHECK(h.delivered[0].first.commit_lsn == Lsn(0x600));
  CHECK(h.delivered[0].second == std::vector<int64_t>{8});
  CHECK(h.assembler.Idle());
}

TEST_CASE("events out of place are errors naming the event and LSN", "[txn]") {
  Harness h;
  auto st = h.Feed({t::Commit(1, 0x10, 0x20)});
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("commit") != std::string::npos);
  CHECK(st.message().find("0/99") != std::string::npos);
  Harness h2;
  REQUIRE_FALSE(h2.Feed({Rel(), t::Insert(1, {t::Int(1), t::Text("x")})}).ok());
  Harness h3;
  REQUIRE_FALSE(h3.Feed({t::Begin(1, 0x10), t::Begin(2, 0x20)}).ok());
  Harness h4;
  REQUIRE_FALSE(h4.Feed({t::StreamStart(5, false)}).ok());
  Harness h5;
  REQUIRE_FALSE(h5.Feed({t::CommitPrepared(1, 0x10, 0x20, "nope")}).ok());
}
