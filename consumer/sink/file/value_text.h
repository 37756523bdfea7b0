// value_text.h
//    Values in PostgreSQL's text input syntax.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// AppendValueText writes the text that the column type's input function
// reads back as the same value, whatever the session's DateStyle, TimeZone
// or IntervalStyle: dates and timestamps in ISO form (BC years suffixed),
// timestamptz in UTC with an explicit "+00", intervals as
// "M mons D days [-]H:MM:SS.ffffff", floats in their shortest exact form,
// bytea as "\x" hex, arrays as array literals with every element quoted.
// Markers (NULL, unchanged TOAST, not sent) have no text; callers handle
// them first.

#pragma once

#include <cstdint>
#include <string>

#include "model/change.h"

namespace walapply::sink::file {

void AppendValueText(const model::Value& value, std::string* out);

// Timestamps (microseconds since the Unix epoch) in ISO 8601 form; with_zone
// appends "+00".
void AppendTimestamp(int64_t us, bool with_zone, std::string* out);
void AppendDate(int32_t days, std::string* out);
void AppendDouble(double v, std::string* out);
void AppendFloat(float v, std::string* out);

// SQL helpers.
void AppendQuotedIdentifier(const std::string& ident, std::string* out);
// A string constant: '...' when that is unambiguous under every setting of
// standard_conforming_strings, E'...' with escapes otherwise (backslashes,
// control characters).  The result never contains a raw newline.
void AppendQuotedLiteral(const std::string& text, std::string* out);

// JSON string with the escapes RFC 8259 requires (and \u for controls).
void AppendJsonString(const std::string& text, std::string* out);

}  // namespace walapply::sink::file
