// schema_sql.h
//    The objects a peer needs in schema wal2proto, as SQL.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The extension script (plugin/wal2proto--1.0.sql) creates the same objects
// with the same definitions; the sink creates whichever is missing (an
// extension installed before they existed), one statement per object.

#pragma once

namespace walapply::sink::postgres {

struct SchemaObject {
  const char* regclass_or_proc;  // to_regclass / to_regprocedure argument
  bool is_function;
  const char* create_sql;
};

// In dependency order.
extern const SchemaObject kSchemaObjects[];
extern const int kSchemaObjectCount;

}  // namespace walapply::sink::postgres
