// file_sink.h
//    The text-file target: SQL or JSON Lines, append-only, fsynced.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Each transaction is appended whole (in chunks of about 1 MB, so a huge
// one is never held in memory as text) and becomes durable at Flush(),
// which fdatasyncs the file.  On Open() the file is scanned backwards for
// its last complete record (format.h states the rule); whatever follows it
// (an interrupted write) is cut off, and the last commit it holds becomes
// HeldCommitLsn()/DurableEndLsn().  Reopen() (SIGHUP) flushes, closes and
// opens the path again, creating a new file if it was rotated away.

#pragma once

#include <memory>
#include <string>

#include "sink/file/format.h"
#include "sink/sink.h"

namespace walapply::sink::file {

class FileSink : public Sink {
 public:
  FileSink(std::string name, std::string path, std::unique_ptr<Format> format);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  const std::string& name() const override { return name_; }
  Status Open() override;
  model::Lsn HeldCommitLsn() const override { return held_commit_; }
  model::Lsn HeldMessageLsn() const override { return held_message_; }
  Status Apply(const txn::Transaction& txn) override;
  Status ApplyMessage(const model::Change& message) override;
  Status MarkPosition(model::Lsn lsn) override;
  Status Flush() override;
  bool HasUnflushed() const override { return unflushed_; }
  model::Lsn DurableEndLsn() const override { return durable_end_; }
  Status Reopen() override;
  Status Close() override;

  const Format& format() const { return *format_; }
  // Bytes cut off the end of the file by Open() (an interrupted write).
  uint64_t truncated_bytes() const { return truncated_bytes_; }

 private:
  Status OpenFile(bool recover);
  Status Recover(uint64_t size);
  Status WriteOut();
  Status IoError(const char* what) const;

  std::string name_;
  std::string path_;
  std::unique_ptr<Format> format_;
  int fd_ = -1;
  std::string buffer_;
  bool unflushed_ = false;
  model::Lsn held_commit_;
  model::Lsn held_message_;
  model::Lsn written_end_;
  model::Lsn durable_end_;
  uint64_t truncated_bytes_ = 0;
};

}  // namespace walapply::sink::file
