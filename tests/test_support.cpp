// test_support.cpp
//    Implementation of test_support.h.

#include "test_support.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#ifndef W2P_PROTOC
#error "W2P_PROTOC (path of protoc) must be defined by the build"
#endif
#ifndef W2P_PROTO_DIR
#error \
    "W2P_PROTO_DIR (directory of wal2proto.proto) must be defined by the build"
#endif

namespace w2p_test {

namespace {

// The single quotes of a shell word.
std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::string ServerConnstr() {
  if (const char* connstr = std::getenv("W2P_TEST_CONNSTR")) {
    return connstr;
  }
  const char* port = std::getenv("W2P_TEST_PORT");
  if (port == nullptr) {
    FAIL(
        "no test cluster: run through ctest (its fixture starts one) or set "
        "W2P_TEST_PORT / W2P_TEST_CONNSTR");
  }
  return std::string("host=127.0.0.1 user=postgres port=") + port;
}

Db::Db(const std::string& dbname) : name_(dbname) {
  std::string connstr =
      ServerConnstr() + " dbname=" + dbname + " application_name=w2p_test";
  conn_.reset(PQconnectdb(connstr.c_str()));
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    FAIL("cannot connect with \"" << connstr
                                  << "\": " << PQerrorMessage(conn_.get()));
  }
  // Settings that must not matter: values never depend on them.
  Exec(
      "SET DateStyle = 'SQL, DMY'; SET TimeZone = 'America/St_Johns';"
      "SET IntervalStyle = 'sql_standard'; SET bytea_output = 'escape';"
      "SET extra_float_digits = 0; SET client_min_messages = warning");
}

PgResultPtr Db::Exec(const std::string& sql) {
  PgResultPtr res(PQexec(conn_.get(), sql.c_str()));
  ExecStatusType status = PQresultStatus(res.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    FAIL("SQL failed: " << sql << "\n" << PQerrorMessage(conn_.get()));
  }
  return res;
}

std::string Db::Scalar(const std::string& sql) {
  PgResultPtr res = Exec(sql);
  if (PQntuples(res.get()) != 1 || PQnfields(res.get()) != 1) {
    FAIL("expected one value from: " << sql << " (got " << PQntuples(res.get())
                                     << " rows)");
  }
  return PQgetvalue(res.get(), 0, 0);
}

std::vector<std::string> Db::Row(const std::string& sql) {
  PgResultPtr res = Exec(sql);
  if (PQntuples(res.get()) != 1) {
    FAIL("expected one row from: " << sql);
  }
  std::vector<std::string> row;
  for (int i = 0; i < PQnfields(res.get()); i++) {
    row.emplace_back(PQgetvalue(res.get(), 0, i));
  }
  return row;
}

std::string Db::Literal(const std::string& s) {
  char* quoted = PQescapeLiteral(conn_.get(), s.data(), s.size());
  if (quoted == nullptr) {
    FAIL("PQescapeLiteral: " << PQerrorMessage(conn_.get()));
  }
  std::string out(quoted);
  PQfreemem(quoted);
  return out;
}

std::unique_ptr<Db> FreshDatabase(const std::string& dbname) {
  {
    Db admin("postgres");
    std::string lit = admin.Literal(dbname);
    admin.Exec(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
        " WHERE database = " +
        lit);
    admin.Exec("DROP DATABASE IF EXISTS \"" + dbname + "\" WITH (FORCE)");
    admin.Exec("CREATE DATABASE \"" + dbname +
               "\" TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'");
  }
  return std::make_unique<Db>(dbname);
}

std::vector<Write> GetChanges(Db& db, const std::string& slot,
                              const std::vector<std::string>& options) {
  std::string sql =
      "SELECT (lsn - '0/0')::text, xid::text, encode(data, 'hex')"
      " FROM pg_logical_slot_get_binary_changes(" +
      db.Literal(slot) + ", NULL, NULL";
  for (const std::string& opt : options) {
    sql += ", " + db.Literal(opt);
  }
  sql += ")";
  PgResultPtr res = db.Exec(sql);
  std::vector<Write> writes;
  for (int i = 0; i < PQntuples(res.get()); i++) {
    Write w;
    w.lsn = ParseU64(PQgetvalue(res.get(), i, 0));
    w.xid = static_cast<uint32_t>(ParseU64(PQgetvalue(res.get(), i, 1)));
    w.data = HexDecode(PQgetvalue(res.get(), i, 2));
    w.batch =
        CheckWrite(w.data, "write " + std::to_string(i) + " of slot " + slot +
                               " at lsn " + PQgetvalue(res.get(), i, 0));
    writes.push_back(std::move(w));
  }
  return writes;
}

wal2proto::v1::Batch CheckWrite(const std::string& data,
                                const std::string& what) {
  INFO(what << " (" << data.size() << " bytes)");
  wal2proto::v1::Batch batch;
  REQUIRE(batch.ParseFromString(data));
  RequireNoUnknownFields(batch, "Batch");
  REQUIRE(batch.messages_size() > 0);
  for (const auto& msg : batch.messages()) {
    REQUIRE(msg.kind_case() != wal2proto::v1::Message::KIND_NOT_SET);
  }
  // What was parsed re-encodes to no more bytes than were read (the plugin
  // may write what the generated code would omit, never the reverse).
  REQUIRE(batch.ByteSizeLong() <= data.size());

  std::string text;
  int status = ProtocDecode(data, &text);
  INFO("protoc --decode output:\n" << text);
  REQUIRE(status == 0);
  // protoc prints fields it does not know as bare numbers ("7: 1").
  std::regex unknown_line(R"(^\s*[0-9]+\s*[:{])");
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    INFO("line: " << line);
    REQUIRE_FALSE(std::regex_search(line, unknown_line));
  }
  return batch;
}

void RequireNoUnknownFields(const google::protobuf::Message& msg,
                            const std::string& path) {
  const google::protobuf::Reflection* refl = msg.GetReflection();
  INFO("unknown fields in " << path);
  REQUIRE(refl->GetUnknownFields(msg).empty());
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const auto* field : fields) {
    if (field->cpp_type() !=
        google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
      continue;
    }
    if (field->is_repeated()) {
      for (int i = 0; i < refl->FieldSize(msg, field); i++) {
        RequireNoUnknownFields(
            refl->GetRepeatedMessage(msg, field, i),
            path + "." + field->name() + "[" + std::to_string(i) + "]");
      }
    } else {
      RequireNoUnknownFields(refl->GetMessage(msg, field),
                             path + "." + field->name());
    }
  }
}

int ProtocDecode(const std::string& data, std::string* text) {
  char in_path[] = "/tmp/w2p_test_in.XXXXXX";
  int fd = mkstemp(in_path);
  REQUIRE(fd >= 0);
  {
    std::ofstream out(in_path, std::ios::binary);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
  }
  close(fd);
  std::string cmd =
      ShellQuote(W2P_PROTOC) + " --decode=wal2proto.v1.Batch -I" +
      ShellQuote(W2P_PROTO_DIR) + " " +
      ShellQuote(std::string(W2P_PROTO_DIR) + "/wal2proto.proto") + " < " +
      ShellQuote(in_path) + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  text->clear();
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
    text->append(buf, n);
  }
  int status = pclose(pipe);
  unlink(in_path);
  if (status == -1 || !WIFEXITED(status)) {
    return -1;
  }
  return WEXITSTATUS(status);
}

std::vector<wal2proto::v1::Message> Flatten(const std::vector<Write>& writes) {
  std::vector<wal2proto::v1::Message> msgs;
  for (const Write& w : writes) {
    for (const auto& m : w.batch.messages()) {
      msgs.push_back(m);
    }
  }
  return msgs;
}

std::string KindName(const wal2proto::v1::Message& msg) {
  const auto* oneof = msg.GetDescriptor()->FindOneofByName("kind");
  const auto* field = msg.GetReflection()->GetOneofFieldDescriptor(msg, oneof);
  return field == nullptr ? "(none)" : field->name();
}

std::string HexDecode(const std::string& hex) {
  REQUIRE(hex.size() % 2 == 0);
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

uint64_t ParseU64(const std::string& s) {
  size_t pos = 0;
  uint64_t v = std::stoull(s, &pos, 10);
  REQUIRE(pos == s.size());
  return v;
}

int64_t ParseI64(const std::string& s) {
  size_t pos = 0;
  int64_t v = std::stoll(s, &pos, 10);
  REQUIRE(pos == s.size());
  return v;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO("reading " << path);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace w2p_test
