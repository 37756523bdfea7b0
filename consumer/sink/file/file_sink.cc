// file_sink.cc
//    The text-file target.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/file/file_sink.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace walapply::sink::file {

namespace {

constexpr size_t kChunkBytes = 1 << 20;

// Reads the line that starts at `offset`; nullopt if it has no newline
// before the end of the file (an incomplete line).
std::optional<std::string> ReadLineAt(int fd, uint64_t offset, uint64_t size) {
  std::string line;
  char buf[4096];
  while (offset < size) {
    ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    const char* nl = static_cast<const char*>(memchr(buf, '\n', n));
    if (nl) {
      line.append(buf, nl - buf);
      return line;
    }
    line.append(buf, n);
    offset += n;
  }
  return std::nullopt;
}

}  // namespace

FileSink::FileSink(std::string name, std::string path,
                   std::unique_ptr<Format> format)
    : name_(std::move(name)),
      path_(std::move(path)),
      format_(std::move(format)) {}

FileSink::~FileSink() {
  if (fd_ >= 0) close(fd_);
}

Status FileSink::IoError(const char* what) const {
  return Status::Fatal(fmt::format("could not {} file \"{}\": {}", what, path_,
                                   std::strerror(errno)));
}

Status FileSink::Open() { return OpenFile(true); }

Status FileSink::OpenFile(bool recover) {
  format_->OnNewFile();
  fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return IoError("open");
  struct stat st;
  if (fstat(fd_, &st) != 0) return IoError("stat");
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > 0 && recover) {
    WALAPPLY_RETURN_IF_ERROR(Recover(size));
    if (fstat(fd_, &st) != 0) return IoError("stat");
    size = static_cast<uint64_t>(st.st_size);
  }
  if (size == 0) {
    buffer_ = format_->Header();
    WALAPPLY_RETURN_IF_ERROR(WriteOut());
    if (fdatasync(fd_) != 0) return IoError("fsync");
  }
  return Status::Ok();
}

Status FileSink::Recover(uint64_t size) {
  char head[256];
  ssize_t n = pread(fd_, head, sizeof(head), 0);
  if (n < 0) return IoError("read");
  if (!format_->LooksLikeOurs(std::string_view(head, n))) {
    return Status::Fatal(fmt::format(
        "file \"{}\" exists and is not a walapply {} file; refusing to append "
        "to it",
        path_, format_->name()));
  }

  // Walk backwards through the file, chunk by chunk, looking at line starts.
  const size_t prefix_len = format_->record_end_prefix_bytes();
  uint64_t cut = 0;  // end of the last complete record
  bool have_cut = false;
  bool found_commit = false;
  uint64_t chunk_end = size;
  std::string chunk;
  while (chunk_end > 0 && !found_commit) {
    uint64_t start = chunk_end > kChunkBytes ? chunk_end - kChunkBytes : 0;
    // Read a little past the chunk so prefixes that cross its end are seen.
    uint64_t read_end = std::min(size, chunk_end + prefix_len);
    chunk.resize(read_end - start);
    size_t got = 0;
    while (got < chunk.size()) {
      ssize_t r = pread(fd_, chunk.data() + got, chunk.size() - got,
                        static_cast<off_t>(start + got));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return IoError("read");
      got += r;
    }
    // Candidate line starts s in [start, chunk_end), from the last.
    for (uint64_t s = chunk_end; s-- > start;) {
      size_t i = s - start;
      bool line_start = (s == 0) || (i > 0 && chunk[i - 1] == '\n');
      if (!line_start && i == 0) {
        // The byte before is in the previous chunk; check it directly.
        char prev;
        if (pread(fd_, &prev, 1, static_cast<off_t>(s - 1)) != 1) {
          return IoError("read");
        }
        line_start = prev == '\n';
      }
      if (!line_start) continue;
      std::string_view start_bytes(chunk.data() + i, chunk.size() - i);
      if (!format_->IsRecordEndPrefix(start_bytes.substr(0, prefix_len)))
        continue;
      std::optional<std::string> line = ReadLineAt(fd_, s, size);
      if (!line) continue;  // incomplete: part of the interrupted write
      std::optional<RecordEnd> rec = format_->ParseRecordEnd(*line);
      if (!rec) continue;
      if (!have_cut) {
        have_cut = true;
        cut = s + line->size() + 1;
      }
      if (rec->is_commit) {
        held_commit_ = rec->commit_lsn;
        durable_end_ = written_end_ = rec->end_lsn;
        found_commit = true;
        break;
      }
      if (rec->is_position) {
        // Everything committed before the position is in the file.
        held_commit_ = rec->message_lsn;
        durable_end_ = written_end_ = rec->message_lsn;
        found_commit = true;
        break;
      }
      if (!held_message_.valid()) held_message_ = rec->message_lsn;
    }
    chunk_end = start;
  }
  if (!have_cut) {
    // Only a header and perhaps an interrupted first transaction: keep the
    // header, drop the rest.
    std::string header = format_->Header();
    std::string begin(header.size(), '\0');
    ssize_t r = header.empty() ? 0 : pread(fd_, begin.data(), begin.size(), 0);
    cut = (r == static_cast<ssize_t>(header.size()) && begin == header)
              ? header.size()
              : 0;
  }
  if (cut < size) {
    truncated_bytes_ = size - cut;
    spdlog::info(
        "target {}: cut {} bytes of an interrupted write after the last "
        "complete record",
        name_, truncated_bytes_);
    if (ftruncate(fd_, static_cast<off_t>(cut)) != 0)
      return IoError("truncate");
    if (fdatasync(fd_) != 0) return IoError("fsync");
  }
  return Status::Ok();
}

Status FileSink::WriteOut() {
  size_t off = 0;
  while (off < buffer_.size()) {
    ssize_t n = write(fd_, buffer_.data() + off, buffer_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("write to");
    }
    off += n;
  }
  buffer_.clear();
  unflushed_ = true;
  return Status::Ok();
}

Status FileSink::Apply(const txn::Transaction& txn) {
  buffer_.clear();
  format_->AppendBegin(txn.info, &buffer_);
  WALAPPLY_RETURN_IF_ERROR(txn.changes->ForEach([&](const model::Change& c) {
    format_->AppendChange(c, &buffer_);
    if (buffer_.size() >= kChunkBytes) return WriteOut();
    return Status::Ok();
  }));
  format_->AppendCommit(txn.info, &buffer_);
  WALAPPLY_RETURN_IF_ERROR(WriteOut());
  held_commit_ = txn.info.commit_lsn;
  held_message_ = model::Lsn();
  written_end_ = txn.info.end_lsn;
  return Status::Ok();
}

Status FileSink::ApplyMessage(const model::Change& message) {
  buffer_.clear();
  format_->AppendStandaloneMessage(message, &buffer_);
  WALAPPLY_RETURN_IF_ERROR(WriteOut());
  held_message_ = message.message_lsn;
  return Status::Ok();
}

Status FileSink::MarkPosition(model::Lsn lsn) {
  if (lsn <= written_end_ || lsn <= held_commit_) return Status::Ok();
  WALAPPLY_RETURN_IF_ERROR(Flush());
  buffer_.clear();
  format_->AppendPosition(lsn, &buffer_);
  WALAPPLY_RETURN_IF_ERROR(WriteOut());
  if (fdatasync(fd_) != 0) return IoError("fsync");
  unflushed_ = false;
  held_commit_ = lsn;
  held_message_ = model::Lsn();
  durable_end_ = written_end_ = lsn;
  return Status::Ok();
}

Status FileSink::Flush() {
  if (!unflushed_) return Status::Ok();
  if (fdatasync(fd_) != 0) return IoError("fsync");
  unflushed_ = false;
  durable_end_ = written_end_;
  return Status::Ok();
}

Status FileSink::Reopen() {
  WALAPPLY_RETURN_IF_ERROR(Flush());
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  return OpenFile(false);
}

Status FileSink::Close() {
  Status s = Flush();
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  return s;
}

}  // namespace walapply::sink::file
