// copy_data.h
//    Rows in the data formats of COPY FROM STDIN: binary and text.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The peer target sends runs of inserts with COPY.  The binary format skips
// the server's text parsing of every value (numeric, timestamps, uuid,
// jsonb ...), which is most of what an insert costs there; it is used when
// every column's type has a binary form written here and the target column
// has that very type.  Otherwise, or for a value that has no binary form
// here (a timestamp past 294247 AD arrives as text), the text format is used:
// the value's text input syntax (sink/file/value_text.h) with COPY's
// backslash escapes.
//
// Binary encodings follow the types' send/recv functions in PostgreSQL
// (src/backend/utils/adt): network byte order, dates and timestamps counted
// from 2000-01-01, numeric in base-10000 digits.

#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/change.h"

namespace walapply::sink::postgres {

// True when values of the built-in type `type_oid` can be written in COPY's
// binary format by AppendBinaryField.
bool HasBinaryForm(uint32_t type_oid);

// The binary COPY header and trailer.
void AppendBinaryHeader(std::string* out);
void AppendBinaryTrailer(std::string* out);
// The field count that starts each binary tuple.
void AppendBinaryFieldCount(int16_t count, std::string* out);
// One field of type `type_oid` (length word, then the bytes; -1 for NULL).
// False, with *out unchanged, when the value cannot be written in binary.
bool AppendBinaryField(uint32_t type_oid, const model::Value& value,
                       std::string* out);

// A one-dimensional array of `values`, all of type `type_oid`, in
// array_recv's binary format (a bind parameter); false, with *out
// unchanged, when a value cannot be written in binary.
bool AppendBinaryArray(uint32_t type_oid,
                       const std::vector<const model::Value*>& values,
                       std::string* out);

// One field in COPY's text format (\N for NULL), without the delimiter.
void AppendTextField(const model::Value& value, std::string* out);

// One element of an array literal: NULL, or the value's text in double
// quotes with '"' and '\' escaped (what array_in reads back).
void AppendArrayElement(const model::Value& value, std::string* out);

// An array literal of `values`: {e1,e2,...}, each as AppendArrayElement.
void AppendArrayLiteral(const std::vector<const model::Value*>& values,
                        std::string* out);

// Numeric text ("-12.3400", "NaN", "Infinity") in numeric_send's layout;
// false if the text is not a numeric literal.
bool AppendBinaryNumeric(const std::string& text, std::string* out);

}  // namespace walapply::sink::postgres
