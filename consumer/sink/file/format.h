// format.h
//    The record formats of the text-file target: SQL and JSON Lines.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// A file is a sequence of records, each a run of whole lines (values never
// contain a raw newline: SQL literals escape it, JSON strings too).
//
//  * A transaction record is a begin line, one or more lines per change, and
//    a commit line.  The commit line is written last and carries the commit
//    LSN, end LSN and xid; the begin line carries xid, commit LSN, end LSN,
//    commit time and origin.
//  * A standalone-message record is one line (non-transactional logical
//    message).
//  * A position record is one line saying that every transaction committed
//    before its LSN is in the file (written while the stream is idle, so that
//    the slot can move on); readers skip it.
//
// The rule for readers: a transaction is complete only when its commit line
// is present and ends with a newline.  Anything after the last complete
// record is the remains of an interrupted write and is cut off when walapply
// reopens the file.
//
// SQL:
//   -- wal2proto begin xid=N commit_lsn=X/X end_lsn=X/X commit_time=T
//   origin='o' BEGIN; INSERT INTO "s"."t" ("a", "b") VALUES (1, 'x'); COMMIT;
//   -- wal2proto commit xid=N commit_lsn=X/X end_lsn=X/X
//   -- wal2proto standalone_message lsn=X/X prefix='p' content='\x..'
//   -- wal2proto position lsn=X/X
// JSON Lines, one object per line, "kind" always first:
//   {"kind":"begin","xid":N,"commit_lsn":"X/X","end_lsn":"X/X",
//    "commit_time":"...","origin":"..."}
//   {"kind":"relation","schema":"s","table":"t","replica_identity":"default",
//    "columns":[{"name":"a","type":"integer","type_oid":23,"key":true},...]}
//   {"kind":"insert","schema":"s","table":"t","new":{"a":1,"b":"x"}}
//   {"kind":"commit","xid":N,"commit_lsn":"X/X","end_lsn":"X/X"}
//   {"kind":"standalone_message","lsn":"X/X","prefix":"p","content":"\\x.."}
//   {"kind":"position","lsn":"X/X"}

#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "model/change.h"

namespace walapply::sink::file {

// The end of a record found in an existing file.
struct RecordEnd {
  bool is_commit = false;
  bool is_position = false;  // position records: lsn in message_lsn
  model::Lsn commit_lsn;     // commit records
  model::Lsn end_lsn;        // commit records
  model::Lsn message_lsn;    // standalone messages
};

class Format {
 public:
  virtual ~Format() = default;
  virtual const char* name() const = 0;
  // What a new file starts with (may be empty).
  virtual std::string Header() const = 0;
  // Whether an existing, non-empty file looks like one of ours.
  virtual bool LooksLikeOurs(std::string_view head) const = 0;

  // A new file (or the same one reopened) starts: forget what was said in
  // the previous one (JSON Lines describes each relation once per file).
  virtual void OnNewFile() {}

  virtual void AppendBegin(const model::TxnInfo& info, std::string* out) = 0;
  virtual void AppendChange(const model::Change& change, std::string* out) = 0;
  virtual void AppendCommit(const model::TxnInfo& info, std::string* out) = 0;
  virtual void AppendStandaloneMessage(const model::Change& message,
                                       std::string* out) = 0;
  virtual void AppendPosition(model::Lsn lsn, std::string* out) = 0;

  // Whether a line (without its newline) could end a record: cheap prefix
  // test on its first bytes.
  virtual bool IsRecordEndPrefix(std::string_view line_start) const = 0;
  virtual size_t record_end_prefix_bytes() const = 0;
  // Parses a line that ends a record; nullopt if it is not one.
  virtual std::optional<RecordEnd> ParseRecordEnd(
      std::string_view line) const = 0;

  // Changes that cannot be replayed (an update or delete without replica
  // identity) are written as comments; this counts them.
  uint64_t unreplayable_count() const { return unreplayable_count_; }

 protected:
  uint64_t unreplayable_count_ = 0;
};

std::unique_ptr<Format> MakeSqlFormat();
std::unique_ptr<Format> MakeJsonlFormat();

}  // namespace walapply::sink::file
