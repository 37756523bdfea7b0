// test_support.h
//    Helpers shared by the plugin's end-to-end tests: libpq handles with
//    RAII, a fresh database per test case, reading a slot's binary changes,
//    and the checks every plugin write must pass (parses as a Batch with the
//    generated classes, carries no unknown fields, and protoc decodes it).
//
// The tests talk to a cluster started by the ctest fixture
// (scripts/pgcluster.sh); its address comes from W2P_TEST_CONNSTR, or
// W2P_TEST_PORT for 127.0.0.1 with user postgres.  Paths to protoc and the
// .proto file are compiled in by tests/CMakeLists.txt.

#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "wal2proto.pb.h"

namespace w2p_test {

struct PgConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct PgResultDeleter {
  void operator()(PGresult* res) const { PQclear(res); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

// Connection string of the test cluster's server, without dbname.  Fails
// the test (never skips) when the environment does not name a cluster.
std::string ServerConnstr();

// One connection to one database.  Not thread-safe.  Every method fails
// the current test on an SQL error.
class Db {
 public:
  explicit Db(const std::string& dbname);
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements; returns the last result.
  PgResultPtr Exec(const std::string& sql);
  // The single value of a query returning one row and one column.
  std::string Scalar(const std::string& sql);
  // Values of the first row, as text ("" for NULL).
  std::vector<std::string> Row(const std::string& sql);
  // SQL literal for s, quoted for this connection.
  std::string Literal(const std::string& s);

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  PgConnPtr conn_;
};

// Drops the database (and its slots) if it exists, creates it afresh and
// connects to it.
std::unique_ptr<Db> FreshDatabase(const std::string& dbname);

// One row of pg_logical_slot_get_binary_changes: one plugin write.
struct Write {
  uint64_t lsn = 0;
  uint32_t xid = 0;
  std::string data;
  wal2proto::v1::Batch batch;
};

// Reads (and consumes) the slot's changes with the given option pairs
// ("name", "value", ...), and checks every write with CheckWrite.
std::vector<Write> GetChanges(Db& db, const std::string& slot,
                              const std::vector<std::string>& options);

// The checks every write of the plugin must pass; returns the parsed
// batch.  `what` names the write in failure messages.
wal2proto::v1::Batch CheckWrite(const std::string& data,
                                const std::string& what);

// Fails the test if msg or any message inside it holds unknown fields.
void RequireNoUnknownFields(const google::protobuf::Message& msg,
                            const std::string& path);

// Runs `protoc --decode=wal2proto.v1.Batch` on data; returns its exit
// status and puts its output into *text.
int ProtocDecode(const std::string& data, std::string* text);

// All messages of the writes, in order.
std::vector<wal2proto::v1::Message> Flatten(const std::vector<Write>& writes);

// The name of the member of Message.kind that is set ("insert", ...).
std::string KindName(const wal2proto::v1::Message& msg);

std::string HexDecode(const std::string& hex);
uint64_t ParseU64(const std::string& s);
int64_t ParseI64(const std::string& s);

// Contents of a whole file (binary); fails the test if unreadable.
std::string ReadFile(const std::string& path);

}  // namespace w2p_test
