// file_sink_test.cc
//    Unit tests of the file target: restart position and torn tails.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/file/file_sink.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "decode/decoder.h"
#include "tests/batch_builder.h"
#include "txn/assembler.h"

namespace t = walapply::testing;
namespace f = walapply::sink::file;
using walapply::Status;
using walapply::model::Lsn;

namespace {

std::string TempPath(const char* ext) {
  char templ[] = "/tmp/walapply-test-XXXXXX";
  int fd = mkstemp(templ);
  close(fd);
  unlink(templ);
  return std::string(templ) + ext;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes n transactions with commit LSNs 0x1000, 0x2000, ... to the sink.
void WriteTxns(f::FileSink* sink, int first, int n, size_t rows = 3) {
  walapply::decode::Decoder d;
  std::vector<walapply::txn::Transaction> txns;
  walapply::txn::Assembler a(
      walapply::txn::BufferOptions{1 << 20, ""},
      [&](walapply::txn::Transaction& txn) { return sink->Apply(txn); },
      [](const walapply::model::Change&) { return Status::Ok(); });
  std::vector<t::pb::Message> msgs = {
      t::Relation(1, "public", "t", t::pb::REPLICA_IDENTITY_DEFAULT,
                  {{"id", 23, "integer", true}})};
  for (int i = first; i < first + n; i++) {
    msgs.push_back(t::Begin(i, 0x1000 * i));
    for (size_t r = 0; r < rows; r++)
      msgs.push_back(t::Insert(1, {t::Int(i * 100 + r)}));
    msgs.push_back(t::Commit(i, 0x1000 * i, 0x1000 * i + 0x28));
  }
  std::vector<walapply::decode::Event> ev;
  REQUIRE(d.Decode(t::Serialize(msgs), Lsn(1), &ev).ok());
  for (auto& e : ev) REQUIRE(a.Handle(std::move(e), Lsn(1)).ok());
}

}  // namespace

TEST_CASE("a file target reads back its last complete transaction", "[sink]") {
  for (const char* ext : {".sql", ".jsonl"}) {
    INFO(ext);
    std::string path = TempPath(ext);
    auto make = [&] {
      return std::make_unique<f::FileSink>(path, path,
                                           std::string(ext) == ".sql"
                                               ? f::MakeSqlFormat()
                                               : f::MakeJsonlFormat());
    };
    {
      auto s = make();
      REQUIRE(s->Open().ok());
      CHECK_FALSE(s->HeldCommitLsn().valid());
      WriteTxns(s.get(), 1, 3);
      CHECK(s->HasUnflushed());
      CHECK(s->DurableEndLsn() == Lsn());  // nothing durable before Flush
      REQUIRE(s->Flush().ok());
      CHECK(s->DurableEndLsn() == Lsn(0x3028));
      REQUIRE(s->Close().ok());
    }
    std::string complete = ReadAll(path);
    {
      auto s = make();
      REQUIRE(s->Open().ok());
      CHECK(s->HeldCommitLsn() == Lsn(0x3000));
      CHECK(s->DurableEndLsn() == Lsn(0x3028));
      CHECK(s->truncated_bytes() == 0);
    }
    // A torn tail: half of a fourth transaction, cut mid-line.
    {
      auto s = make();
      REQUIRE(s->Open().ok());
      WriteTxns(s.get(), 4, 1, 50);
      REQUIRE(s->Close().ok());
      std::string all = ReadAll(path);
      REQUIRE(truncate(path.c_str(), static_cast<off_t>(all.size() - 7)) == 0);
    }
    {
      auto s = make();
      REQUIRE(s->Open().ok());
      CHECK(s->HeldCommitLsn() == Lsn(0x3000));
      CHECK(s->truncated_bytes() > 0);
      CHECK(ReadAll(path) == complete);
      WriteTxns(s.get(), 4, 1);
      REQUIRE(s->Close().ok());
    }
    {
      auto s = make();
      REQUIRE(s->Open().ok());
      CHECK(s->HeldCommitLsn() == Lsn(0x4000));
    }
    unlink(path.c_str());
  }
}

TEST_CASE("a file target refuses a file that is not its own", "[sink]") {
  std::string path = TempPath(".sql");
  {
    std::ofstream out(path);
    out << "important data\n";
  }
  f::FileSink s(path, path, f::MakeSqlFormat());
  Status st = s.Open();
  REQUIRE_FALSE(st.ok());
  CHECK(st.message().find("not a walapply") != std::string::npos);
  CHECK(ReadAll(path) == "important data\n");
  unlink(path.c_str());
}

TEST_CASE("target URIs pick the format or name the bad value", "[sink]") {
  CHECK(walapply::sink::MakeSink("file:/tmp/x.sql").ok());
  CHECK(walapply::sink::MakeSink("file:/tmp/x.jsonl").ok());
  CHECK(walapply::sink::MakeSink("file:/tmp/x.log?format=jsonl").ok());
  auto bad = walapply::sink::MakeSink("file:/tmp/x.txt");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("file:/tmp/x.txt") != std::string::npos);
  auto fmt = walapply::sink::MakeSink("file:/tmp/x?format=csv");
  REQUIRE_FALSE(fmt.ok());
  CHECK(fmt.status().message().find("csv") != std::string::npos);
  REQUIRE_FALSE(walapply::sink::MakeSink("ftp://x").ok());
  // mongodb:// targets exist now; a bad parameter is still refused.
  REQUIRE_FALSE(
      walapply::sink::MakeSink("mongodb://localhost/db?nulls=maybe").ok());
}

TEST_CASE("a position record is read back as the held position", "[sink]") {
  for (const char* ext : {".sql", ".jsonl"}) {
    INFO(ext);
    std::string path = TempPath(ext);
    auto make = [&] {
      return std::make_unique<f::FileSink>(path, path,
                                           std::string(ext) == ".sql"
                                               ? f::MakeSqlFormat()
                                               : f::MakeJsonlFormat());
    };
    {
      auto s = make();
      REQUIRE(s->Open().ok());
      WriteTxns(s.get(), 1, 2);
      REQUIRE(s->MarkPosition(Lsn(0x9000)).ok());
      CHECK_FALSE(s->HasUnflushed());
      CHECK(s->DurableEndLsn() == Lsn(0x9000));
      CHECK(s->HeldCommitLsn() == Lsn(0x9000));
      // Not backwards.
      REQUIRE(s->MarkPosition(Lsn(0x100)).ok());
      CHECK(s->DurableEndLsn() == Lsn(0x9000));
    }
    {
      auto s = make();
      REQUIRE(s->Open().ok());
      CHECK(s->HeldCommitLsn() == Lsn(0x9000));
      CHECK(s->DurableEndLsn() == Lsn(0x9000));
      WriteTxns(s.get(), 10, 1);
      REQUIRE(s->Close().ok());
    }
    {
      auto s = make();
      REQUIRE(s->Open().ok());
      CHECK(s->HeldCommitLsn() == Lsn(0xA000));
    }
    unlink(path.c_str());
  }
}
