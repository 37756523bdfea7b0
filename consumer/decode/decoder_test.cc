// decoder_test.cc
//    Unit tests of batch decoding: golden plugin bytes and built batches.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "decode/decoder.h"

#include <dirent.h>
#include <google/protobuf/stubs/logging.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "sink/file/format.h"
#include "tests/batch_builder.h"
#include "txn/assembler.h"

namespace t = walapply::testing;
using walapply::decode::Decoder;
using walapply::decode::Event;
using walapply::model::Change;
using walapply::model::ChangeKind;
using walapply::model::Lsn;

namespace {

std::vector<t::ColSpec> TwoCols() {
  return {{"id", 23, "integer", true}, {"v", 25, "text", false}};
}

}  // namespace

TEST_CASE("decoder turns a transaction into events", "[decode]") {
  Decoder d;
  std::vector<Event> ev;
  std::string bytes =
      t::Serialize({t::Begin(700, 0x1000),
                    t::Relation(16384, "public", "t",
                                t::pb::REPLICA_IDENTITY_DEFAULT, TwoCols()),
                    t::Insert(16384, {t::Int(1), t::Text("a")}),
                    t::Commit(700, 0x1000, 0x1030)});
  REQUIRE(d.Decode(bytes, Lsn(0x1000), &ev).ok());
  REQUIRE(ev.size() == 3);
  CHECK(std::holds_alternative<walapply::model::BeginEvent>(ev[0]));
  const Change& c = std::get<Change>(ev[1]);
  CHECK(c.kind == ChangeKind::kInsert);
  CHECK(c.relation().name == "t");
  CHECK(c.new_tuple->values(1).text_value() == "a");
  auto& commit = std::get<walapply::model::CommitEvent>(ev[2]);
  CHECK(commit.end_lsn == Lsn(0x1030));
  CHECK(d.relation_count() == 1);
}

TEST_CASE("decoder keeps the relation version current at each change",
          "[decode]") {
  Decoder d;
  std::vector<Event> ev;
  REQUIRE(d.Decode(t::Serialize(
                       {t::Relation(1, "s", "a",
                                    t::pb::REPLICA_IDENTITY_DEFAULT, TwoCols()),
                        t::Insert(1, {t::Int(1), t::Text("x")})}),
                   Lsn(1), &ev)
              .ok());
  auto three = TwoCols();
  three.push_back({"w", 20, "bigint", false});
  REQUIRE(d.Decode(t::Serialize(
                       {t::Relation(1, "s", "a",
                                    t::pb::REPLICA_IDENTITY_DEFAULT, three),
                        t::Insert(1, {t::Int(2), t::Text("y"), t::Int(3)})}),
                   Lsn(2), &ev)
              .ok());
  CHECK(std::get<Change>(ev[0]).relation().columns.size() == 2);
  CHECK(std::get<Change>(ev[1]).relation().columns.size() == 3);
}

TEST_CASE("decoder errors name the LSN and the message kind", "[decode]") {
  Decoder d;
  std::vector<Event> ev;
  SECTION("bytes that are not a batch") {
    auto st =
        d.Decode(std::string("\xff\xff\xff", 3), Lsn(0x2A0000001ULL), &ev);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("2/A0000001") != std::string::npos);
    CHECK_FALSE(st.retryable());
  }
  SECTION("a change for an unknown relation") {
    auto st =
        d.Decode(t::Serialize({t::Insert(99, {t::Int(1)})}), Lsn(0x10), &ev);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("insert") != std::string::npos);
    CHECK(st.message().find("0/10") != std::string::npos);
    CHECK(st.message().find("99") != std::string::npos);
  }
  SECTION("a tuple of the wrong width") {
    auto st = d.Decode(
        t::Serialize({t::Relation(1, "s", "a", t::pb::REPLICA_IDENTITY_DEFAULT,
                                  TwoCols()),
                      t::Update(1, nullptr, {t::Int(1)})}),
        Lsn(0x20), &ev);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("update") != std::string::npos);
    CHECK(st.message().find("1 values") != std::string::npos);
  }
  SECTION("a value without a kind") {
    auto st = d.Decode(
        t::Serialize({t::Relation(1, "s", "a", t::pb::REPLICA_IDENTITY_DEFAULT,
                                  TwoCols()),
                      t::Insert(1, {t::Int(1), t::pb::Value()})}),
        Lsn(0x30), &ev);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("column \"v\"") != std::string::npos);
  }
  SECTION("a message without a kind") {
    t::pb::Batch b;
    b.add_messages();
    auto st = d.Decode(b.SerializeAsString(), Lsn(0x40), &ev);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("unset") != std::string::npos);
  }
  SECTION("an empty batch") {
    auto st = d.Decode("", Lsn(0x50), &ev);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("0/50") != std::string::npos);
  }
  SECTION("an array whose element count does not match its dimensions") {
    t::pb::Value v;
    v.mutable_array_value()->add_dimensions(3);
    *v.mutable_array_value()->add_elements() = t::Int(1);
    auto st = d.Decode(
        t::Serialize({t::Relation(1, "s", "a", t::pb::REPLICA_IDENTITY_DEFAULT,
                                  TwoCols()),
                      t::Insert(1, {t::Int(1), v})}),
        Lsn(0x60), &ev);
    REQUIRE_FALSE(st.ok());
  }
  SECTION("a commit whose end is not past its commit") {
    auto st =
        d.Decode(t::Serialize({t::Commit(1, 0x100, 0x100)}), Lsn(0x70), &ev);
    REQUIRE_FALSE(st.ok());
    CHECK(st.message().find("commit") != std::string::npos);
  }
}

TEST_CASE("decoder never crashes on truncated or mutated bytes", "[decode]") {
  std::string good = t::Serialize(
      {t::Begin(7, 0x1000),
       t::Relation(1, "s", "a", t::pb::REPLICA_IDENTITY_FULL, TwoCols()),
       t::Insert(1, {t::Int(1), t::Text("hello")}),
       t::Commit(7, 0x1000, 0x1010)});
  google::protobuf::LogSilencer quiet;  // mutated strings are invalid UTF-8
  for (size_t n = 0; n < good.size(); n++) {
    Decoder d;
    std::vector<Event> ev;
    d.Decode(good.substr(0, n), Lsn(1), &ev).IgnoreError();
    std::string m = good;
    m[n] = static_cast<char>(m[n] ^ 0x5a);
    d.Decode(m, Lsn(1), &ev).IgnoreError();
  }
  SUCCEED();
}

// Golden bytes written by the real plugin (tests/golden/*.bin, one write
// each, made by the plugin's own tests).  Decoded in name order with one
// relation cache, each must decode cleanly; the only error allowed is a
// change whose Relation message is in no earlier file (the files need not
// come from one session).  Without golden files the test has nothing to
// read and says so.
TEST_CASE("decoder reads the plugin's golden bytes", "[decode]") {
  std::vector<std::string> names;
  if (DIR* dir = opendir(WALAPPLY_GOLDEN_DIR)) {
    while (dirent* e = readdir(dir)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".bin") == 0)
        names.push_back(n);
    }
    closedir(dir);
  }
  std::sort(names.begin(), names.end());
  Decoder d;
  size_t events = 0;
  for (const std::string& n : names) {
    std::ifstream in(std::string(WALAPPLY_GOLDEN_DIR) + "/" + n,
                     std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    INFO(n);
    std::vector<Event> ev;
    walapply::Status st = d.Decode(ss.str(), Lsn(1), &ev);
    if (!st.ok()) {
      INFO(st.message());
      CHECK(st.message().find("was not described by a Relation message") !=
            std::string::npos);
    }
    events += ev.size();
  }
  WARN(names.size() << " golden files decoded into " << events << " events");
}

// The golden writes, in name order, are a coherent history (each file one
// decoding call of the plugin's generator script): decoded, assembled and
// formatted as SQL and JSON Lines without any error, the prepared
// transaction delivered at its COMMIT PREPARED.
TEST_CASE("golden bytes pass through assembly and both file formats",
          "[decode]") {
  std::vector<std::string> names;
  if (DIR* dir = opendir(WALAPPLY_GOLDEN_DIR)) {
    while (dirent* e = readdir(dir)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".bin") == 0)
        names.push_back(n);
    }
    closedir(dir);
  }
  if (names.empty()) {
    WARN("no golden files in " WALAPPLY_GOLDEN_DIR);
    return;
  }
  std::sort(names.begin(), names.end());
  auto sql = walapply::sink::file::MakeSqlFormat();
  auto jsonl = walapply::sink::file::MakeJsonlFormat();
  std::string sql_out, jsonl_out;
  std::vector<std::string> gids;
  size_t delivered = 0;
  walapply::txn::Assembler assembler(
      walapply::txn::BufferOptions{},
      [&](walapply::txn::Transaction& txn) {
        delivered++;
        if (!txn.info.gid.empty()) gids.push_back(txn.info.gid);
        sql->AppendBegin(txn.info, &sql_out);
        jsonl->AppendBegin(txn.info, &jsonl_out);
        walapply::Status st = txn.changes->ForEach([&](const Change& c) {
          sql->AppendChange(c, &sql_out);
          jsonl->AppendChange(c, &jsonl_out);
          return walapply::Status::Ok();
        });
        sql->AppendCommit(txn.info, &sql_out);
        jsonl->AppendCommit(txn.info, &jsonl_out);
        return st;
      },
      [&](const Change& m) {
        sql->AppendStandaloneMessage(m, &sql_out);
        return walapply::Status::Ok();
      });
  Decoder d;
  for (const std::string& n : names) {
    std::ifstream in(std::string(WALAPPLY_GOLDEN_DIR) + "/" + n,
                     std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    INFO(n);
    std::vector<Event> ev;
    walapply::Status st = d.Decode(ss.str(), Lsn(1), &ev);
    INFO(st.message());
    REQUIRE(st.ok());
    for (Event& e : ev) {
      st = assembler.Handle(std::move(e), Lsn(1));
      INFO(st.message());
      REQUIRE(st.ok());
    }
  }
  CHECK(delivered > 0);
  CHECK(sql->unreplayable_count() == 0);
  CHECK(sql_out.find("INSERT INTO ") != std::string::npos);
  CHECK(jsonl_out.find("{\"kind\":\"insert\"") != std::string::npos);
  CHECK(assembler.pending_prepared_count() == 0);
  CHECK_FALSE(gids.empty());
  WARN(delivered << " golden transactions assembled and formatted");
}
