// document.h
//    PostgreSQL rows as MongoDB documents: the type mapping.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The mapping (README, "MongoDB target", states it for users):
//   int2, int4              Int32
//   int8, oid               Int64
//   float4, float8          Double (NaN and +-Infinity kept; float4 widened
//                           exactly)
//   numeric                 Decimal128 when the value has at most 34
//                           significant digits and an exponent Decimal128
//                           can hold (so "12.3400" keeps its scale); NaN and
//                           +-Infinity as Decimal128 NaN/+-Infinity; any
//                           other value as a String of its exact text
//   bool                    Boolean
//   text, varchar, bpchar,
//   name, "char"            String
//   bytea                   Binary subtype 0
//   uuid                    Binary subtype 4
//   date                    Date (midnight UTC of that day)
//   timestamp, timestamptz  Date of the millisecond (rounded down; a
//                           timestamp's wall clock read as UTC), and the
//                           microseconds beyond it (1..999) in the sidecar
//                           field `_us.<column>` (an array of them, 0 for
//                           exact ones, for an array column); the sidecar
//                           is absent when every value is whole
//                           milliseconds.  'infinity' / '-infinity' are the
//                           Date extremes (int64 max / min milliseconds);
//                           timestamps past 294247 AD are Strings (ISO).
//   json, jsonb             the document, array or scalar the text holds;
//                           integers as Int32/Int64 when they fit, every
//                           other number under the numeric rule; keys kept
//                           as written (a key may contain '.' or start
//                           with '$')
//   arrays                  Arrays (nested for more dimensions), elements
//                           under the same rules; an array whose lower
//                           bound is not 1 is a String of its literal
//   NULL                    null, or no field (nulls: absent)
//   time                    String "HH:MM:SS[.ffffff]"
//   timetz                  String "HH:MM:SS[.ffffff]+HH[:MM[:SS]]"
//   interval                String, ISO 8601 duration as PostgreSQL's
//                           IntervalStyle iso_8601 prints it ("P1Y2M3DT4H")
//   everything else         String: the type's text output
// Domains map as their base type.

#pragma once

#include <bson/bson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/change.h"
#include "model/status.h"

namespace walapply::sink::mongodb {

struct MappingOptions {
  bool null_absent = false;      // NULL columns are left out, not null
  bool keep_key_columns = true;  // key columns also stay in the body
  std::string micros_field = "_us";
};

// How a relation's rows are identified in MongoDB.
struct KeyInfo {
  // Indexes into Relation::columns, in column order.  Empty: the relation
  // has no key and is replicated under REPLICA IDENTITY FULL, matching on
  // the whole old row.
  std::vector<size_t> columns;
};

// The key of a relation: its replica identity columns (DEFAULT, INDEX), or
// under FULL its primary key if it has one (none: keyless).  A relation
// whose updates and deletes could not be found again (NOTHING, or DEFAULT
// without a primary key) is refused with a message that says what to do.
Result<KeyInfo> KeyColumns(const model::Relation& rel);

// True for timestamp / timestamptz (and arrays of them, and domains).
bool HasMicros(const model::Column& column);

// Appends `value` of `column` as field `name`.  Sub-millisecond remainders
// of timestamps are appended to *micros (one per timestamp, row-major for
// arrays).  Markers other than NULL are a caller error.
Status AppendValue(bson_t* doc, std::string_view name,
                   const model::Column& column, const model::Value& value,
                   std::vector<int32_t>* micros);

// Appends the _id of the row (the key value, or an ordered subdocument of
// the key columns for a composite key) as field "_id".  A key column that
// `tuple` lacks (unchanged TOAST, not sent) is taken from `fallback`.
Status AppendId(bson_t* doc, const model::Relation& rel, const KeyInfo& key,
                const model::Tuple& tuple, const model::Tuple* fallback);

// The whole document of a row: `id` (an "_id" element is copied from it)
// when given, then the columns in order, then the sidecar.  Unchanged TOAST
// columns are taken from `toast_source` (a document read from the target)
// when given, and are otherwise an error.
Status BuildDocument(const model::Relation& rel, const KeyInfo& key,
                     const model::Tuple& tuple, const MappingOptions& options,
                     const bson_t* id, const bson_t* toast_source, bson_t* out);

// The update of a row: $set of every column the tuple carries, $unset of
// NULL columns under nulls: absent, and the sidecar kept exact.  Columns
// with unchanged TOAST are not touched.
Status BuildUpdate(const model::Relation& rel, const KeyInfo& key,
                   const model::Tuple& tuple, const MappingOptions& options,
                   bson_t* out);

// Equality on every column of a REPLICA IDENTITY FULL old row (for keyless
// relations).
Status BuildRowFilter(const model::Relation& rel, const model::Tuple& old_row,
                      const MappingOptions& options, bson_t* out);

// True if the tuple has an unchanged-TOAST column.
bool HasUnchangedToast(const model::Tuple& tuple);

// Parses JSON text and appends it as field `name`: objects as documents,
// arrays as arrays, numbers as Int32/Int64 when integral and in range and
// otherwise under the numeric rule.  false with *error on invalid JSON.
bool AppendJson(bson_t* doc, std::string_view name, std::string_view json,
                std::string* error);

// Appends a numeric's text under the numeric rule.
void AppendNumeric(bson_t* doc, std::string_view name, const std::string& text);

// Text forms of the types that map to String.
std::string TimeText(int64_t us);
std::string TimeTzText(int64_t us, int32_t utc_offset_s);
std::string IntervalText(int32_t months, int32_t days, int64_t us);

}  // namespace walapply::sink::mongodb
