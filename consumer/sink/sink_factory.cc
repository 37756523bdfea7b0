// sink_factory.cc
//    Target URIs to sinks.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include <fmt/format.h>

#include "sink/file/file_sink.h"
#include "sink/postgres/pg_sink.h"
#include "sink/postgres/pg_target.h"
#include "sink/mongodb/mongo_sink.h"
#include "sink/sink.h"

namespace walapply::sink {

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Result<std::unique_ptr<Sink>> MakeSink(const std::string& uri) {
  if (uri.rfind("file:", 0) == 0) {
    std::string rest = uri.substr(5);
    // file://PATH is accepted as well as file:PATH.
    if (rest.rfind("//", 0) == 0) rest = rest.substr(2);
    std::string path = rest;
    std::string format;
    size_t q = rest.find('?');
    if (q != std::string::npos) {
      path = rest.substr(0, q);
      std::string query = rest.substr(q + 1);
      if (query.rfind("format=", 0) != 0 || query.find('&') != std::string::npos) {
        return Status::Fatal(fmt::format(
            "invalid --target \"{}\": the only query parameter is format=sql|jsonl",
            uri));
      }
      format = query.substr(7);
    } else if (EndsWith(path, ".sql")) {
      format = "sql";
    } else if (EndsWith(path, ".jsonl")) {
      format = "jsonl";
    }
    if (path.empty()) {
      return Status::Fatal(fmt::format("invalid --target \"{}\": no file path", uri));
    }
    std::unique_ptr<file::Format> f;
    if (format == "sql") {
      f = file::MakeSqlFormat();
    } else if (format == "jsonl") {
      f = file::MakeJsonlFormat();
    } else if (format.empty()) {
      return Status::Fatal(fmt::format(
          "invalid --target \"{}\": cannot tell the format from the file name; "
          "use a .sql or .jsonl extension or ?format=sql|jsonl",
          uri));
    } else {
      return Status::Fatal(fmt::format(
          "invalid --target \"{}\": unknown format \"{}\" (sql or jsonl)", uri,
          format));
    }
    return std::unique_ptr<Sink>(
        std::make_unique<file::FileSink>(uri, path, std::move(f)));
  }
  if (uri.rfind("mongodb://", 0) == 0 || uri.rfind("mongodb+srv://", 0) == 0) {
    auto config = mongodb::ParseTarget(uri);
    if (!config.ok()) return config.status();
    return std::unique_ptr<Sink>(
        std::make_unique<mongodb::MongoSink>(uri, std::move(config.value())));
  }
  if (uri.rfind("postgresql:", 0) == 0 || uri.rfind("postgres://", 0) == 0) {
    auto config = postgres::ParseTarget(uri);
    if (!config.ok()) return config.status();
    return std::unique_ptr<Sink>(
        std::make_unique<postgres::PgSink>(uri, std::move(config.value())));
  }
  for (const char* scheme : {"postgresql://", "postgres://", "mongodb://"}) {
    if (uri.rfind(scheme, 0) == 0) {
      return Status::Fatal(fmt::format(
          "invalid --target \"{}\": {} targets are not part of this build yet",
          uri, std::string(scheme).substr(0, std::string(scheme).find(':'))));
    }
  }
  return Status::Fatal(fmt::format(
      "invalid --target \"{}\": expected file:PATH (postgresql:// and "
      "mongodb:// targets come later)",
      uri));
}

}  // namespace walapply::sink
