// golden_test.cpp
//    Parses the golden payloads in tests/golden/ (real writes of the plugin,
//    made by tests/golden/make-golden.sh) and checks what each one holds.
//
// The files are the contract in bytes: a change to the plugin that breaks
// them breaks every consumer that has stored them.  LSNs, xids and times
// are whatever the generating run produced, so they are checked for
// consistency rather than for values.

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "test_support.h"
#include "wal2proto.pb.h"

#ifndef W2P_GOLDEN_DIR
#error "W2P_GOLDEN_DIR must be defined by the build"
#endif

namespace w2p_test {
namespace {

namespace pb = wal2proto::v1;

pb::Batch LoadGolden(const std::string& name) {
  std::string path = std::string(W2P_GOLDEN_DIR) + "/" + name;
  return CheckWrite(ReadFile(path), path);
}

std::vector<std::string> Kinds(const pb::Batch& batch) {
  std::vector<std::string> kinds;
  for (const auto& m : batch.messages()) kinds.push_back(KindName(m));
  return kinds;
}

// Begin first, Commit last, and the two agree with each other.
void RequireTransaction(const pb::Batch& batch) {
  REQUIRE(batch.messages_size() >= 2);
  const pb::Begin& begin = batch.messages(0).begin();
  const pb::Commit& commit = batch.messages(batch.messages_size() - 1).commit();
  CHECK(begin.xid() != 0);
  CHECK(begin.xid() == commit.xid());
  CHECK(begin.final_lsn() == commit.commit_lsn());
  CHECK(commit.commit_lsn() < commit.end_lsn());
  CHECK(begin.commit_time() == commit.commit_time());
  // After 2020-01-01 00:00:00 UTC, in microseconds since the Unix epoch.
  CHECK(commit.commit_time() > 1577836800000000LL);
  CHECK(begin.origin().empty());
}

void RequireMarkers(const pb::Tuple& tuple, int from, pb::Marker marker) {
  for (int i = from; i < tuple.values_size(); i++) {
    INFO("value " << i);
    CHECK(tuple.values(i).marker() == marker);
  }
}

// The Relation of golden_t, as make-golden.sh creates it.
void RequireGoldenRelation(const pb::Relation& rel) {
  CHECK(rel.schema() == "public");
  CHECK(rel.name() == "golden_t");
  CHECK(rel.replica_identity() == pb::REPLICA_IDENTITY_DEFAULT);
  const std::vector<std::string> names = {"id",   "name", "amount", "at",
                                          "tags", "data", "flag",   "ratio"};
  const std::vector<uint32_t> oids = {20, 25, 1700, 1184, 1009, 17, 16, 701};
  REQUIRE(rel.columns_size() == 8);
  for (int i = 0; i < 8; i++) {
    CHECK(rel.columns(i).name() == names[i]);
    CHECK(rel.columns(i).type_oid() == oids[i]);
  }
  CHECK(rel.columns(0).primary_key());
  CHECK(rel.columns(0).identity());
  CHECK(rel.columns(1).not_null());
  // numeric(10,2): (10 << 16 | 2) + 4.
  CHECK(rel.columns(2).type_modifier() == 655366);
  CHECK(rel.columns(2).type_name() == "numeric(10,2)");
}

TEST_CASE("golden insert", "[golden]") {
  pb::Batch b = LoadGolden("01_insert.bin");
  REQUIRE(Kinds(b) == std::vector<std::string>{"begin", "relation", "insert",
                                               "insert", "relation", "insert",
                                               "commit"});
  RequireTransaction(b);
  const pb::Relation& rel = b.messages(1).relation();
  RequireGoldenRelation(rel);

  const pb::Tuple& ada = b.messages(2).insert().new_tuple();
  CHECK(b.messages(2).insert().relation_id() == rel.relation_id());
  REQUIRE(ada.values_size() == 8);
  CHECK(ada.values(0).int_value() == 1);
  CHECK(ada.values(1).text_value() == "Ada");
  CHECK(ada.values(2).numeric_value() == "12.50");
  // 2024-01-02 03:04:05.678901+00: 19724 days * 86400 s + 11045 s.
  CHECK(ada.values(3).timestamptz_value() == 1704164645678901LL);
  const pb::Array& tags = ada.values(4).array_value();
  CHECK(tags.element_type_oid() == 25);
  REQUIRE(tags.dimensions_size() == 1);
  CHECK(tags.dimensions(0) == 3);
  CHECK(tags.lower_bounds(0) == 1);
  REQUIRE(tags.elements_size() == 3);
  CHECK(tags.elements(0).text_value() == "a");
  CHECK(tags.elements(1).marker() == pb::MARKER_NULL);
  CHECK(tags.elements(2).text_value() == "日本");
  CHECK(ada.values(5).bytea_value() == std::string("\x00\xff", 2));
  CHECK(ada.values(6).kind_case() == pb::Value::kBoolValue);
  CHECK(ada.values(6).bool_value());
  CHECK(ada.values(7).float8_value() == 0.5);

  const pb::Tuple& grace = b.messages(3).insert().new_tuple();
  REQUIRE(grace.values_size() == 8);
  CHECK(grace.values(0).int_value() == 2);
  CHECK(grace.values(2).marker() == pb::MARKER_NULL);
  CHECK(grace.values(3).infinity() == pb::INFINITY_POSITIVE);
  CHECK(grace.values(4).kind_case() == pb::Value::kArrayValue);
  CHECK(grace.values(4).array_value().dimensions_size() == 0);
  CHECK(grace.values(4).array_value().elements_size() == 0);
  CHECK(grace.values(5).marker() == pb::MARKER_NULL);
  CHECK(grace.values(6).kind_case() == pb::Value::kBoolValue);
  CHECK_FALSE(grace.values(6).bool_value());
  double nan = grace.values(7).float8_value();
  uint64_t bits;
  std::memcpy(&bits, &nan, sizeof(bits));
  CHECK(bits == 0x7ff8000000000000ULL);

  const pb::Relation& toast = b.messages(4).relation();
  CHECK(toast.name() == "toast_t");
  const pb::Tuple& big = b.messages(5).insert().new_tuple();
  CHECK(b.messages(5).insert().relation_id() == toast.relation_id());
  CHECK(big.values(2).text_value() == std::string(3000, 'x'));
}

TEST_CASE("golden key-changing update", "[golden]") {
  pb::Batch b = LoadGolden("02_update_key.bin");
  REQUIRE(Kinds(b) ==
          std::vector<std::string>{"begin", "relation", "update", "commit"});
  RequireTransaction(b);
  RequireGoldenRelation(b.messages(1).relation());
  const pb::Update& u = b.messages(2).update();
  REQUIRE(u.has_old_tuple());
  REQUIRE(u.old_tuple().values_size() == 8);
  CHECK(u.old_tuple().values(0).int_value() == 1);
  RequireMarkers(u.old_tuple(), 1, pb::MARKER_NOT_SENT);
  REQUIRE(u.new_tuple().values_size() == 8);
  CHECK(u.new_tuple().values(0).int_value() == 11);
  CHECK(u.new_tuple().values(1).text_value() == "Ada");
  CHECK(u.new_tuple().values(2).numeric_value() == "13.75");
}

TEST_CASE("golden update with unchanged TOAST", "[golden]") {
  pb::Batch b = LoadGolden("03_update_toast.bin");
  REQUIRE(Kinds(b) ==
          std::vector<std::string>{"begin", "relation", "update", "commit"});
  RequireTransaction(b);
  CHECK(b.messages(1).relation().name() == "toast_t");
  const pb::Update& u = b.messages(2).update();
  CHECK_FALSE(u.has_old_tuple());
  REQUIRE(u.new_tuple().values_size() == 3);
  CHECK(u.new_tuple().values(0).int_value() == 1);
  CHECK(u.new_tuple().values(1).int_value() == 2);
  CHECK(u.new_tuple().values(2).marker() == pb::MARKER_UNCHANGED_TOAST);
}

TEST_CASE("golden delete", "[golden]") {
  pb::Batch b = LoadGolden("04_delete.bin");
  REQUIRE(Kinds(b) ==
          std::vector<std::string>{"begin", "relation", "delete", "commit"});
  RequireTransaction(b);
  const pb::Delete& d = b.messages(2).delete_();
  CHECK(d.relation_id() == b.messages(1).relation().relation_id());
  REQUIRE(d.old_tuple().values_size() == 8);
  CHECK(d.old_tuple().values(0).int_value() == 2);
  RequireMarkers(d.old_tuple(), 1, pb::MARKER_NOT_SENT);
}

TEST_CASE("golden truncate", "[golden]") {
  pb::Batch b = LoadGolden("05_truncate.bin");
  REQUIRE(Kinds(b) == std::vector<std::string>{"begin", "relation", "relation",
                                               "truncate", "commit"});
  RequireTransaction(b);
  const pb::Truncate& t = b.messages(3).truncate();
  REQUIRE(t.relation_ids_size() == 2);
  CHECK(t.relation_ids(0) == b.messages(1).relation().relation_id());
  CHECK(t.relation_ids(1) == b.messages(2).relation().relation_id());
  CHECK_FALSE(t.cascade());
  CHECK_FALSE(t.restart_identity());
}

TEST_CASE("golden non-transactional message", "[golden]") {
  pb::Batch b = LoadGolden("06_message.bin");
  REQUIRE(Kinds(b) == std::vector<std::string>{"logical_message"});
  const pb::LogicalMessage& m = b.messages(0).logical_message();
  CHECK_FALSE(m.transactional());
  CHECK(m.prefix() == "golden");
  CHECK(m.content() == std::string("\x00\x01\x02\x03", 4));
  CHECK(m.lsn() != 0);
}

TEST_CASE("golden transactional message", "[golden]") {
  pb::Batch b = LoadGolden("07_message_txn.bin");
  REQUIRE(Kinds(b) == std::vector<std::string>{"begin", "logical_message",
                                               "relation", "insert", "commit"});
  RequireTransaction(b);
  const pb::LogicalMessage& m = b.messages(1).logical_message();
  CHECK(m.transactional());
  CHECK(m.prefix() == "golden");
  CHECK(m.content() == "in a transaction");
  CHECK(m.lsn() < b.messages(0).begin().final_lsn());
  const pb::Tuple& t = b.messages(3).insert().new_tuple();
  CHECK(t.values(0).int_value() == 3);
  CHECK(t.values(1).text_value() == "Linus");
  RequireMarkers(t, 2, pb::MARKER_NULL);
}

TEST_CASE("golden streamed transaction", "[golden]") {
  // Four writes: three stream blocks, then the StreamCommit.
  std::vector<pb::Message> msgs;
  for (int i = 1; i <= 4; i++) {
    pb::Batch b = LoadGolden("08_stream_0" + std::to_string(i) + ".bin");
    for (const auto& m : b.messages()) msgs.push_back(m);
  }
  REQUIRE(msgs.front().has_stream_start());
  uint32_t xid = msgs.front().stream_start().xid();
  CHECK(xid != 0);
  CHECK(msgs.front().stream_start().first_segment());
  REQUIRE(msgs.back().has_stream_commit());
  CHECK(msgs.back().stream_commit().xid() == xid);
  CHECK(msgs.back().stream_commit().commit_lsn() <
        msgs.back().stream_commit().end_lsn());

  // Blocks are well nested, and the inserts are the 1,000 rows in order.
  bool in_block = false;
  int blocks = 0;
  int64_t next_id = 100;
  for (size_t i = 0; i + 1 < msgs.size(); i++) {
    const pb::Message& m = msgs[i];
    INFO("message " << i << ": " << KindName(m));
    if (m.has_stream_start()) {
      REQUIRE_FALSE(in_block);
      CHECK(m.stream_start().xid() == xid);
      CHECK(m.stream_start().first_segment() == (blocks == 0));
      in_block = true;
      blocks++;
    } else if (m.has_stream_stop()) {
      REQUIRE(in_block);
      in_block = false;
    } else if (m.has_insert()) {
      REQUIRE(in_block);
      CHECK(m.insert().xid() == xid);
      const pb::Tuple& t = m.insert().new_tuple();
      CHECK(t.values(0).int_value() == next_id);
      CHECK(t.values(1).text_value() == "row " + std::to_string(next_id));
      next_id++;
    } else {
      REQUIRE(m.has_relation());
      REQUIRE(in_block);
    }
  }
  CHECK_FALSE(in_block);
  CHECK(blocks == 3);
  CHECK(next_id == 1100);
}

TEST_CASE("golden two-phase commit", "[golden]") {
  pb::Batch p = LoadGolden("09_prepare.bin");
  REQUIRE(Kinds(p) == std::vector<std::string>{"begin_prepare", "relation",
                                               "insert", "prepare"});
  const pb::BeginPrepare& bp = p.messages(0).begin_prepare();
  const pb::Prepare& pr = p.messages(3).prepare();
  CHECK(bp.gid() == "golden-gid");
  CHECK(pr.gid() == "golden-gid");
  CHECK(bp.xid() == pr.xid());
  CHECK(bp.prepare_lsn() == pr.prepare_lsn());
  CHECK(bp.end_lsn() == pr.end_lsn());
  CHECK(bp.prepare_lsn() < bp.end_lsn());
  CHECK(bp.prepare_time() == pr.prepare_time());
  CHECK(p.messages(2).insert().new_tuple().values(1).text_value() == "Barbara");

  pb::Batch c = LoadGolden("10_commit_prepared.bin");
  REQUIRE(Kinds(c) == std::vector<std::string>{"commit_prepared"});
  const pb::CommitPrepared& cp = c.messages(0).commit_prepared();
  CHECK(cp.gid() == "golden-gid");
  CHECK(cp.xid() == bp.xid());
  // The COMMIT PREPARED record may start right where PREPARE ended.
  CHECK(cp.commit_lsn() >= pr.end_lsn());
  CHECK(cp.commit_lsn() < cp.end_lsn());
  CHECK(cp.commit_time() >= bp.prepare_time());
}

TEST_CASE("golden transaction from a replication origin", "[golden]") {
  pb::Batch b = LoadGolden("11_origin.bin");
  REQUIRE(Kinds(b) ==
          std::vector<std::string>{"begin", "relation", "insert", "commit"});
  const pb::Begin& begin = b.messages(0).begin();
  const pb::Commit& commit = b.messages(3).commit();
  CHECK(begin.origin() == "golden_peer");
  CHECK(begin.origin_lsn() == 0xABCDEF);  // pg_replication_origin_xact_setup
  // The origin's commit time, 2024-01-02 03:04:05+00: 19724 days * 86400 s
  // + 11045 s.
  CHECK(begin.commit_time() == 1704164645000000LL);
  CHECK(commit.commit_time() == 1704164645000000LL);
  CHECK(begin.final_lsn() == commit.commit_lsn());
  CHECK(begin.xid() == commit.xid());
  CHECK(b.messages(2).insert().new_tuple().values(1).text_value() == "Origin");
}

}  // namespace
}  // namespace w2p_test
