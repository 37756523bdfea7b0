// change_buffer.cc
//    In-memory and spilled storage of a transaction's changes.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "txn/change_buffer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <google/protobuf/arena.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace walapply::txn {

namespace {

constexpr size_t kWriteBufferBytes = 1 << 20;
constexpr size_t kReadChunkBytes = 1 << 20;

void PutU32(std::string* s, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; i++) b[i] = static_cast<char>(v >> (8 * i));
  s->append(b, 4);
}
void PutU64(std::string* s, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; i++) b[i] = static_cast<char>(v >> (8 * i));
  s->append(b, 8);
}
void PutBytes(std::string* s, const std::string& v) {
  PutU32(s, static_cast<uint32_t>(v.size()));
  s->append(v);
}

// Bounds-checked reader over one record.
class Reader {
 public:
  Reader(const char* p, size_t n) : p_(p), end_(p + n) {}
  bool U8(uint8_t* v) {
    if (end_ - p_ < 1) return false;
    *v = static_cast<uint8_t>(*p_++);
    return true;
  }
  bool U32(uint32_t* v) {
    if (end_ - p_ < 4) return false;
    *v = 0;
    for (int i = 0; i < 4; i++)
      *v |= uint32_t{static_cast<uint8_t>(p_[i])} << (8 * i);
    p_ += 4;
    return true;
  }
  bool U64(uint64_t* v) {
    if (end_ - p_ < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; i++)
      *v |= uint64_t{static_cast<uint8_t>(p_[i])} << (8 * i);
    p_ += 8;
    return true;
  }
  bool Bytes(const char** data, uint32_t* len) {
    if (!U32(len) || static_cast<size_t>(end_ - p_) < *len) return false;
    *data = p_;
    p_ += *len;
    return true;
  }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

ChangeBuffer::ChangeBuffer(const BufferOptions& options) : options_(options) {}

ChangeBuffer::~ChangeBuffer() {
  if (fd_ >= 0) close(fd_);
}

Status ChangeBuffer::Append(model::Change&& change) {
  if (fd_ < 0) {
    size_t bytes = change.ApproximateBytes();
    if (memory_bytes_ + bytes <= options_.memory_limit_bytes ||
        memory_.empty()) {
      memory_bytes_ += bytes;
      memory_.push_back(std::move(change));
      return Status::Ok();
    }
    std::string dir = options_.spill_dir;
    if (dir.empty()) {
      const char* t = std::getenv("TMPDIR");
      dir = (t && *t) ? t : "/tmp";
    }
    fd_ = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      std::string templ = dir + "/walapply-spill.XXXXXX";
      fd_ = mkostemp(templ.data(), O_CLOEXEC);
      if (fd_ < 0) {
        return Status::Fatal(
            fmt::format("could not create a spill file in \"{}\": {}", dir,
                        std::strerror(errno)));
      }
      unlink(templ.c_str());
    }
  }
  WALAPPLY_RETURN_IF_ERROR(SpillOne(change));
  spilled_count_++;
  if (write_buffer_.size() >= kWriteBufferBytes) return FlushWriteBuffer();
  return Status::Ok();
}

Status ChangeBuffer::SpillOne(const model::Change& c) {
  std::string rec;
  rec.reserve(64 + c.content.size());
  rec.push_back(static_cast<char>(c.kind));
  PutU32(&rec, c.xid.value());
  uint8_t flags = (c.has_old_tuple() ? 1 : 0) | (c.cascade ? 2 : 0) |
                  (c.restart_identity ? 4 : 0) | (c.transactional ? 8 : 0);
  rec.push_back(static_cast<char>(flags));
  PutU64(&rec, c.message_lsn.value());
  PutU32(&rec, static_cast<uint32_t>(c.relations.size()));
  for (const model::RelationPtr& rel : c.relations) {
    auto [it, inserted] = relation_slots_.try_emplace(
        rel.get(), static_cast<uint32_t>(spilled_relations_.size()));
    if (inserted) spilled_relations_.push_back(rel);
    PutU32(&rec, it->second);
  }
  PutBytes(&rec, c.old_tuple ? c.old_tuple->SerializeAsString() : "");
  PutBytes(&rec, c.new_tuple ? c.new_tuple->SerializeAsString() : "");
  PutBytes(&rec, c.prefix);
  PutBytes(&rec, c.content);
  PutU32(&write_buffer_, static_cast<uint32_t>(rec.size()));
  write_buffer_.append(rec);
  return Status::Ok();
}

Status ChangeBuffer::FlushWriteBuffer() {
  size_t off = 0;
  while (off < write_buffer_.size()) {
    ssize_t n = pwrite(fd_, write_buffer_.data() + off,
                       write_buffer_.size() - off, file_bytes_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::Fatal(fmt::format("could not write to spill file: {}",
                                       std::strerror(errno)));
    }
    off += n;
    file_bytes_ += n;
  }
  write_buffer_.clear();
  return Status::Ok();
}

Status ChangeBuffer::DecodeRecord(const char* p, size_t len,
                                  google::protobuf::Arena* arena,
                                  model::Change* out) const {
  Reader r(p, len);
  uint8_t kind, flags;
  uint32_t xid, nrels;
  uint64_t lsn;
  auto corrupt = [] { return Status::Fatal("corrupt record in spill file"); };
  if (!r.U8(&kind) ||
      kind > static_cast<uint8_t>(model::ChangeKind::kMessage) ||
      !r.U32(&xid) || !r.U8(&flags) || !r.U64(&lsn) || !r.U32(&nrels)) {
    return corrupt();
  }
  out->kind = static_cast<model::ChangeKind>(kind);
  out->xid = model::Xid(xid);
  bool has_old = flags & 1;
  bool has_new = kind != static_cast<uint8_t>(model::ChangeKind::kDelete) &&
                 kind != static_cast<uint8_t>(model::ChangeKind::kTruncate) &&
                 kind != static_cast<uint8_t>(model::ChangeKind::kMessage);
  out->cascade = flags & 2;
  out->restart_identity = flags & 4;
  out->transactional = flags & 8;
  out->message_lsn = model::Lsn(lsn);
  out->relations.clear();
  for (uint32_t i = 0; i < nrels; i++) {
    uint32_t slot;
    if (!r.U32(&slot) || slot >= spilled_relations_.size()) return corrupt();
    out->relations.push_back(spilled_relations_[slot]);
  }
  const char* d;
  uint32_t n;
  out->old_tuple = out->new_tuple = nullptr;
  if (!r.Bytes(&d, &n)) return corrupt();
  if (has_old) {
    auto* t = google::protobuf::Arena::CreateMessage<model::Tuple>(arena);
    if (!t->ParseFromArray(d, n)) return corrupt();
    out->old_tuple = t;
  }
  if (!r.Bytes(&d, &n)) return corrupt();
  if (has_new) {
    auto* t = google::protobuf::Arena::CreateMessage<model::Tuple>(arena);
    if (!t->ParseFromArray(d, n)) return corrupt();
    out->new_tuple = t;
  }
  if (!r.Bytes(&d, &n)) return corrupt();
  out->prefix.assign(d, n);
  if (!r.Bytes(&d, &n)) return corrupt();
  out->content.assign(d, n);
  return Status::Ok();
}

Status ChangeBuffer::ForEach(
    const std::function<Status(const model::Change&)>& fn) const {
  for (const model::Change& c : memory_) {
    if (!aborted_.empty() && aborted_.count(c.xid)) continue;
    WALAPPLY_RETURN_IF_ERROR(fn(c));
  }
  if (fd_ < 0) return Status::Ok();
  // Reading is const for callers but must see every spilled record.
  WALAPPLY_RETURN_IF_ERROR(const_cast<ChangeBuffer*>(this)->FlushWriteBuffer());

  std::string buf;
  uint64_t file_off = 0;
  size_t pos = 0;
  model::Change change;
  // Tuples read back live on an arena that is replaced every few thousand
  // records (a change handed to fn keeps its own arena alive).
  std::shared_ptr<google::protobuf::Arena> arena;
  size_t on_arena = 0;
  while (true) {
    // Make sure buf[pos..] holds a whole record, reading more as needed.
    size_t have = buf.size() - pos;
    size_t need = 4;
    if (have >= 4) {
      uint32_t len = 0;
      for (int i = 0; i < 4; i++)
        len |= uint32_t{static_cast<uint8_t>(buf[pos + i])} << (8 * i);
      need = 4 + static_cast<size_t>(len);
    }
    if (have < need) {
      if (file_off >= file_bytes_) {
        if (have != 0) return Status::Fatal("truncated spill file");
        break;
      }
      buf.erase(0, pos);
      pos = 0;
      size_t chunk = std::max(kReadChunkBytes, need - have);
      size_t old = buf.size();
      buf.resize(old + chunk);
      ssize_t n = pread(fd_, buf.data() + old, chunk, file_off);
      if (n < 0) {
        if (errno == EINTR) {
          buf.resize(old);
          continue;
        }
        return Status::Fatal(
            fmt::format("could not read spill file: {}", std::strerror(errno)));
      }
      buf.resize(old + n);
      file_off += n;
      if (n == 0) return Status::Fatal("truncated spill file");
      continue;
    }
    if (!arena || ++on_arena >= 4096) {
      arena = std::make_shared<google::protobuf::Arena>();
      on_arena = 0;
    }
    change.storage = arena;
    WALAPPLY_RETURN_IF_ERROR(
        DecodeRecord(buf.data() + pos + 4, need - 4, arena.get(), &change));
    pos += need;
    if (!aborted_.empty() && aborted_.count(change.xid)) continue;
    WALAPPLY_RETURN_IF_ERROR(fn(change));
  }
  return Status::Ok();
}

}  // namespace walapply::txn
