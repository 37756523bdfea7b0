// config.h
//    Settings of a mongodb:// target.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// A target is a MongoDB connection string with a few walapply parameters
// mixed into its query; they are taken out before libmongoc sees the URI:
//   slot=NAME          the key of this stream's progress document (use the
//                      replication slot's name; default "walapply")
//   config=FILE        a YAML file with the settings below
//   nulls=null|absent  NULL columns as null (default) or as no field
//   keepKeyColumns=true|false
//   retryTimeout=SECONDS  how long one write is retried before the stream is
//                      restarted (default 300)
// Parameters in the URI win over the file.  The YAML file:
//   progress_database: walapply     # where progress documents live
//   progress_collection: progress
//   progress_key: NAME              # as slot=
//   nulls: absent
//   keep_key_columns: false
//   micros_field: _us               # the sub-millisecond sidecar field
//   retry_timeout: 300
//   tables:
//     public.orders:                # schema.table
//       database: shop              # default: the schema's name
//       collection: orders          # default: the table's name
//       keep_key_columns: true

#pragma once

#include <map>
#include <optional>
#include <string>

#include "model/status.h"
#include "sink/mongodb/document.h"

namespace walapply::sink::mongodb {

struct TableTarget {
  std::string database;
  std::string collection;
  std::optional<bool> keep_key_columns;
};

struct TargetConfig {
  std::string mongo_uri;  // what libmongoc gets
  std::string progress_database = "walapply";
  std::string progress_collection = "progress";
  std::string progress_key = "walapply";
  MappingOptions mapping;
  double retry_timeout_s = 300;
  std::map<std::string, TableTarget> tables;  // by "schema.table"
};

Result<TargetConfig> ParseTarget(const std::string& uri);

}  // namespace walapply::sink::mongodb
