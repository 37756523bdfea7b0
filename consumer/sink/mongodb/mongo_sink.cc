// mongo_sink.cc
//    The MongoDB target.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/mongodb/mongo_sink.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <thread>

namespace walapply::sink::mongodb {

namespace {

// Bulks are executed every this many operations, so a huge transaction is
// never held whole in memory as BSON.
constexpr size_t kMaxBulkOps = 20000;

// MongoDB's limit on one document; checked here so that the error names the
// row (libmongoc's own check names only a position in a batch).
constexpr uint32_t kMaxDocumentBytes = 16 * 1024 * 1024;

std::once_flag g_mongoc_init;

// Server error codes that mean "try again" (the server is stepping down,
// shutting down or unreachable), as MongoDB's retryable-writes rules list.
bool RetryableCode(uint32_t code) {
  switch (code) {
    case 6:
    case 7:
    case 89:
    case 91:
    case 189:
    case 262:
    case 9001:
    case 10107:
    case 11600:
    case 11602:
    case 13435:
    case 13436:
      return true;
    default:
      return false;
  }
}

bool Retryable(const bson_error_t& e) {
  if (e.domain == MONGOC_ERROR_STREAM ||
      e.domain == MONGOC_ERROR_SERVER_SELECTION) {
    return true;
  }
  return RetryableCode(e.code);
}

void AppendLsn(bson_t* doc, const char* name, model::Lsn lsn) {
  bson_append_int64(doc, name, -1, static_cast<int64_t>(lsn.value()));
}

std::string IdJson(const bson_t* id_doc) {
  bson_iter_t it;
  if (!bson_iter_init_find(&it, id_doc, "_id")) return "?";
  Bson one;
  bson_append_iter(one.get(), "_id", 3, &it);
  std::string j = one.CanonicalJson();
  return j;
}

bool SameId(const bson_t* a, const bson_t* b) {
  return a->len == b->len &&
         memcmp(bson_get_data(a), bson_get_data(b), a->len) == 0;
}

}  // namespace

struct MongoSink::RelState {
  model::RelationPtr rel;
  KeyInfo key;
  MappingOptions mapping;
  std::string database;
  std::string collection;
  std::string display;  // "schema"."table"
};

struct MongoSink::Pending {
  RelState* state = nullptr;
  CollectionPtr coll;
  BulkPtr bulk;
  // For each queued operation: the number of its change in the
  // transaction, to name the row when a write fails.
  std::vector<uint32_t> change_of_op;
};

MongoSink::MongoSink(std::string name, TargetConfig config)
    : name_(std::move(name)), config_(std::move(config)) {}

MongoSink::~MongoSink() = default;

Status MongoSink::MongoError(const bson_error_t& error,
                             const std::string& what) const {
  std::string msg =
      fmt::format("target {}: {}: {}", name_, what, error.message);
  return Retryable(error) ? Status::Retry(msg) : Status::Fatal(msg);
}

Status MongoSink::Connect() {
  std::call_once(g_mongoc_init, [] { mongoc_init(); });
  bson_error_t error;
  UriPtr uri(mongoc_uri_new_with_error(config_.mongo_uri.c_str(), &error));
  if (!uri) {
    return Status::Fatal(
        fmt::format("invalid --target \"{}\": {}", name_, error.message));
  }
  client_.reset(mongoc_client_new_from_uri(uri.get()));
  if (!client_) {
    return Status::Fatal(
        fmt::format("target {}: could not create a MongoDB client", name_));
  }
  mongoc_client_set_error_api(client_.get(), MONGOC_ERROR_API_VERSION_2);
  mongoc_client_set_appname(client_.get(), "walapply");
  return Status::Ok();
}

Result<MongoSink::Progress> MongoSink::ReadProgress() {
  CollectionPtr coll(mongoc_client_get_collection(
      client_.get(), config_.progress_database.c_str(),
      config_.progress_collection.c_str()));
  Bson filter;
  bson_append_utf8(filter.get(), "_id", 3, config_.progress_key.data(),
                   static_cast<int>(config_.progress_key.size()));
  Bson opts;
  bson_append_int64(opts.get(), "limit", 5, 1);
  CursorPtr cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(),
                                                    opts.get(), nullptr));
  const bson_t* doc = nullptr;
  Progress p;
  if (mongoc_cursor_next(cursor.get(), &doc)) {
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "commit_lsn") &&
        BSON_ITER_HOLDS_INT64(&it)) {
      p.commit = model::Lsn(static_cast<uint64_t>(bson_iter_int64(&it)));
    }
    if (bson_iter_init_find(&it, doc, "end_lsn") &&
        BSON_ITER_HOLDS_INT64(&it)) {
      p.end = model::Lsn(static_cast<uint64_t>(bson_iter_int64(&it)));
    }
  }
  bson_error_t error;
  if (mongoc_cursor_error(cursor.get(), &error)) {
    return MongoError(error, "could not read the progress document");
  }
  return p;
}

template <typename Fn>
Status MongoSink::WithRetry(const char* what, Fn&& fn) {
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  double backoff = 0.1;
  while (true) {
    Status st = fn();
    if (st.ok() || !st.retryable()) return st;
    double waited = std::chrono::duration<double>(Clock::now() - start).count();
    if (waited >= config_.retry_timeout_s) {
      return Status::Retry(fmt::format("{} (gave up {} after {:.0f} s)",
                                       st.message(), what, waited));
    }
    ++stats_.retries;
    spdlog::warn("{}; retrying {} in {:.1f} s", st.message(), what, backoff);
    std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    backoff = std::min(backoff * 2, 5.0);
  }
}

Status MongoSink::Open() {
  WALAPPLY_RETURN_IF_ERROR(Connect());
  Progress p;
  WALAPPLY_RETURN_IF_ERROR(WithRetry("reading progress", [&]() -> Status {
    auto r = ReadProgress();
    if (!r.ok()) return r.status();
    p = *r;
    return Status::Ok();
  }));
  held_commit_ = p.commit;
  written_end_ = durable_end_ = p.end;
  relations_.clear();
  return Status::Ok();
}

Result<MongoSink::RelState*> MongoSink::StateOf(const model::RelationPtr& rel) {
  auto it = relations_.find(rel.get());
  if (it != relations_.end()) return it->second.get();
  auto key = KeyColumns(*rel);
  if (!key.ok()) return key.status();
  auto s = std::make_unique<RelState>();
  s->rel = rel;
  s->key = *key;
  s->mapping = config_.mapping;
  s->database = rel->schema;
  s->collection = rel->name;
  s->display = fmt::format("\"{}\".\"{}\"", rel->schema, rel->name);
  auto t = config_.tables.find(rel->schema + "." + rel->name);
  if (t != config_.tables.end()) {
    if (!t->second.database.empty()) s->database = t->second.database;
    if (!t->second.collection.empty()) s->collection = t->second.collection;
    if (t->second.keep_key_columns)
      s->mapping.keep_key_columns = *t->second.keep_key_columns;
  }
  if (s->key.columns.empty()) s->mapping.keep_key_columns = true;
  RelState* raw = s.get();
  relations_[rel.get()] = std::move(s);
  return raw;
}

Status MongoSink::Execute(Pending* p, const model::TxnInfo& info) {
  if (p->change_of_op.empty()) return Status::Ok();
  Bson reply;
  bson_error_t error;
  uint32_t ok =
      mongoc_bulk_operation_execute(p->bulk.get(), reply.get(), &error);
  ++stats_.bulks;
  stats_.operations += p->change_of_op.size();
  Bson opts;
  bson_append_bool(opts.get(), "ordered", 7, true);
  BulkPtr fresh(mongoc_collection_create_bulk_operation_with_opts(p->coll.get(),
                                                                  opts.get()));
  std::vector<uint32_t> ops;
  ops.swap(p->change_of_op);
  p->bulk = std::move(fresh);
  if (ok) return Status::Ok();
  if (Retryable(error)) {
    return MongoError(error,
                      fmt::format("writing the transaction committed at {}",
                                  info.commit_lsn.ToString()));
  }
  // Name the operation that failed.
  std::string where = fmt::format("relation {}", p->state->display);
  bson_iter_t it, e;
  if (bson_iter_init_find(&it, reply.get(), "writeErrors") &&
      BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &e) &&
      bson_iter_next(&e) && BSON_ITER_HOLDS_DOCUMENT(&e)) {
    bson_iter_t f;
    if (bson_iter_recurse(&e, &f) && bson_iter_find(&f, "index")) {
      int64_t index = bson_iter_as_int64(&f);
      if (index >= 0 && static_cast<size_t>(index) < ops.size()) {
        where += fmt::format(", change {} of the transaction", ops[index] + 1);
        failed_change_ = ops[index];
      }
    }
  }
  return Status::Fatal(
      fmt::format("target {}: write failed for the transaction committed "
                  "at {} ({}): {}",
                  name_, info.commit_lsn.ToString(), where, error.message));
}

Status MongoSink::AddChange(
    const model::Change& c, const model::TxnInfo& info, uint32_t index,
    std::unordered_map<std::string, std::unique_ptr<Pending>>* pending,
    std::vector<Pending*>* order) {
  if (c.kind == model::ChangeKind::kMessage) return Status::Ok();
  auto pending_for = [&](RelState* s) -> Pending* {
    std::string ns = s->database + "." + s->collection;
    auto it = pending->find(ns);
    if (it != pending->end()) return it->second.get();
    auto p = std::make_unique<Pending>();
    p->state = s;
    p->coll.reset(mongoc_client_get_collection(
        client_.get(), s->database.c_str(), s->collection.c_str()));
    Bson opts;
    bson_append_bool(opts.get(), "ordered", 7, true);
    p->bulk.reset(mongoc_collection_create_bulk_operation_with_opts(
        p->coll.get(), opts.get()));
    Pending* raw = p.get();
    (*pending)[ns] = std::move(p);
    order->push_back(raw);
    return raw;
  };
  // Errors here name the change's position, relation and key.
  auto fail = [&](RelState* s, const std::string& key, const std::string& why) {
    return Status::Fatal(fmt::format(
        "target {}: cannot apply change {} of the transaction committed at {} "
        "to "
        "relation {}{}: {}",
        name_, index + 1, info.commit_lsn.ToString(), s ? s->display : "?",
        key.empty() ? "" : " key " + key, why));
  };

  if (c.kind == model::ChangeKind::kTruncate) {
    for (const auto& rel : c.relations) {
      auto s = StateOf(rel);
      if (!s.ok()) return s.status();
      Pending* p = pending_for(*s);
      Bson all;
      bson_error_t error;
      if (!mongoc_bulk_operation_remove_many_with_opts(p->bulk.get(), all.get(),
                                                       nullptr, &error)) {
        return fail(*s, "", error.message);
      }
      p->change_of_op.push_back(index);
    }
    return Status::Ok();
  }

  auto st = StateOf(c.relations.front());
  if (!st.ok()) return st.status();
  if (c.kind != model::ChangeKind::kDelete && c.new_tuple == nullptr) {
    return Status::Fatal(
        fmt::format("target {}: change {} of the transaction committed at {} "
                    "has no new row",
                    name_, index + 1, info.commit_lsn.ToString()));
  }
  RelState* s = *st;
  const model::Relation& rel = *s->rel;
  Pending* p = pending_for(s);
  bson_error_t error;
  Bson upsert_opts;
  bson_append_bool(upsert_opts.get(), "upsert", 6, true);
  bson_append_bool(upsert_opts.get(), "validate", 8, false);
  Bson update_opts;
  bson_append_bool(update_opts.get(), "validate", 8, false);
  const bool keyless = s->key.columns.empty();

  auto add_replace = [&](const bson_t* id, const bson_t* doc) -> Status {
    if (doc->len > kMaxDocumentBytes) {
      return fail(
          s, IdJson(id),
          fmt::format("the document is {} bytes, over MongoDB's limit of {}",
                      doc->len, kMaxDocumentBytes));
    }
    if (!mongoc_bulk_operation_replace_one_with_opts(
            p->bulk.get(), id, doc, upsert_opts.get(), &error)) {
      return fail(s, IdJson(id), error.message);
    }
    p->change_of_op.push_back(index);
    return Status::Ok();
  };
  auto add_remove = [&](const bson_t* selector,
                        const std::string& key) -> Status {
    if (!mongoc_bulk_operation_remove_one_with_opts(p->bulk.get(), selector,
                                                    nullptr, &error)) {
      return fail(s, key, error.message);
    }
    p->change_of_op.push_back(index);
    return Status::Ok();
  };
  auto add_update = [&](const bson_t* selector, const bson_t* update,
                        bool upsert, const std::string& key) -> Status {
    if (bson_empty(update)) return Status::Ok();  // nothing the change carries
    if (!mongoc_bulk_operation_update_one_with_opts(
            p->bulk.get(), selector, update,
            upsert ? upsert_opts.get() : update_opts.get(), &error)) {
      return fail(s, key, error.message);
    }
    p->change_of_op.push_back(index);
    return Status::Ok();
  };
  auto wrap = [&](Status inner, const std::string& key) -> Status {
    if (inner.ok()) return inner;
    return fail(s, key, inner.message());
  };

  switch (c.kind) {
    case model::ChangeKind::kInsert: {
      Bson id;
      if (keyless) {
        bson_t sub;
        bson_append_document_begin(id.get(), "_id", 3, &sub);
        AppendLsn(&sub, "lsn", info.commit_lsn);
        bson_append_int32(&sub, "n", 1, static_cast<int32_t>(index));
        bson_append_document_end(id.get(), &sub);
      } else {
        WALAPPLY_RETURN_IF_ERROR(
            wrap(AppendId(id.get(), rel, s->key, *c.new_tuple, nullptr), ""));
      }
      Bson doc;
      WALAPPLY_RETURN_IF_ERROR(
          wrap(BuildDocument(rel, s->key, *c.new_tuple, s->mapping, id.get(),
                             nullptr, doc.get()),
               IdJson(id.get())));
      WALAPPLY_RETURN_IF_ERROR(add_replace(id.get(), doc.get()));
      break;
    }
    case model::ChangeKind::kUpdate: {
      if (keyless) {
        if (!c.has_old_tuple()) {
          return fail(s, "", "a keyless relation needs REPLICA IDENTITY FULL");
        }
        Bson filter, update;
        WALAPPLY_RETURN_IF_ERROR(wrap(
            BuildRowFilter(rel, *c.old_tuple, s->mapping, filter.get()), ""));
        WALAPPLY_RETURN_IF_ERROR(wrap(
            BuildUpdate(rel, s->key, *c.new_tuple, s->mapping, update.get()),
            ""));
        WALAPPLY_RETURN_IF_ERROR(
            add_update(filter.get(), update.get(), false, ""));
        break;
      }
      const model::Tuple* old = c.old_tuple;
      Bson new_id;
      WALAPPLY_RETURN_IF_ERROR(
          wrap(AppendId(new_id.get(), rel, s->key, *c.new_tuple, old), ""));
      Bson old_id;
      if (old) {
        WALAPPLY_RETURN_IF_ERROR(
            wrap(AppendId(old_id.get(), rel, s->key, *old, nullptr), ""));
      } else {
        bson_concat(old_id.get(), new_id.get());
      }
      bool toast = HasUnchangedToast(*c.new_tuple);
      if (SameId(new_id.get(), old_id.get())) {
        Bson update;
        WALAPPLY_RETURN_IF_ERROR(wrap(
            BuildUpdate(rel, s->key, *c.new_tuple, s->mapping, update.get()),
            IdJson(new_id.get())));
        // With every column in hand the update may create the document; with
        // TOAST left out it must not create a partial one.
        WALAPPLY_RETURN_IF_ERROR(add_update(new_id.get(), update.get(), !toast,
                                            IdJson(new_id.get())));
        break;
      }
      // The key changed: move the document.
      Bson doc;
      if (!toast) {
        WALAPPLY_RETURN_IF_ERROR(
            wrap(BuildDocument(rel, s->key, *c.new_tuple, s->mapping,
                               new_id.get(), nullptr, doc.get()),
                 IdJson(new_id.get())));
      } else {
        // Unchanged TOAST values live only in the old document: write what is
        // queued, read it (or the new one, if a replay already moved it) and
        // build the moved document from it.  The new _id is written before
        // the old one is deleted, so a crash in between loses nothing.
        WALAPPLY_RETURN_IF_ERROR(Execute(p, info));
        Bson found;
        bool have = false;
        for (const bson_t* sel : {old_id.get(), new_id.get()}) {
          CursorPtr cur(mongoc_collection_find_with_opts(p->coll.get(), sel,
                                                         nullptr, nullptr));
          const bson_t* d = nullptr;
          if (mongoc_cursor_next(cur.get(), &d)) {
            bson_concat(found.get(), d);
            have = true;
          }
          bson_error_t ce;
          if (mongoc_cursor_error(cur.get(), &ce)) {
            return MongoError(ce,
                              "reading the document of a key-changing update");
          }
          if (have) break;
        }
        if (!have) {
          return fail(
              s, IdJson(old_id.get()),
              "the key changed and unchanged TOAST values must come from the "
              "old document, which the target does not have");
        }
        WALAPPLY_RETURN_IF_ERROR(
            wrap(BuildDocument(rel, s->key, *c.new_tuple, s->mapping,
                               new_id.get(), found.get(), doc.get()),
                 IdJson(new_id.get())));
      }
      WALAPPLY_RETURN_IF_ERROR(add_replace(new_id.get(), doc.get()));
      WALAPPLY_RETURN_IF_ERROR(add_remove(old_id.get(), IdJson(old_id.get())));
      break;
    }
    case model::ChangeKind::kDelete: {
      if (!c.has_old_tuple()) {
        return fail(s, "", "the delete carries no old key");
      }
      Bson selector;
      if (keyless) {
        WALAPPLY_RETURN_IF_ERROR(wrap(
            BuildRowFilter(rel, *c.old_tuple, s->mapping, selector.get()), ""));
        WALAPPLY_RETURN_IF_ERROR(add_remove(selector.get(), ""));
      } else {
        WALAPPLY_RETURN_IF_ERROR(wrap(
            AppendId(selector.get(), rel, s->key, *c.old_tuple, nullptr), ""));
        WALAPPLY_RETURN_IF_ERROR(
            add_remove(selector.get(), IdJson(selector.get())));
      }
      break;
    }
    default:
      break;
  }
  if (p->change_of_op.size() >= kMaxBulkOps) return Execute(p, info);
  return Status::Ok();
}

Status MongoSink::WriteProgress(const model::TxnInfo& info) {
  CollectionPtr coll(mongoc_client_get_collection(
      client_.get(), config_.progress_database.c_str(),
      config_.progress_collection.c_str()));
  Bson selector, update, opts, reply;
  bson_append_utf8(selector.get(), "_id", 3, config_.progress_key.data(),
                   static_cast<int>(config_.progress_key.size()));
  // After the first transaction the document must still say what this
  // process last wrote: if it does not, MongoDB lost acknowledged writes
  // (or another walapply writes with the same key), and going on would
  // build on a gap.  Only the very first write may create it.
  const bool first = !held_commit_.valid();
  if (!first) AppendLsn(selector.get(), "commit_lsn", held_commit_);
  bson_t set;
  bson_append_document_begin(update.get(), "$set", 4, &set);
  AppendLsn(&set, "commit_lsn", info.commit_lsn);
  AppendLsn(&set, "end_lsn", info.end_lsn);
  std::string commit = info.commit_lsn.ToString();
  std::string end = info.end_lsn.ToString();
  bson_append_utf8(&set, "commit", -1, commit.c_str(), -1);
  bson_append_utf8(&set, "end", -1, end.c_str(), -1);
  bson_append_int64(&set, "xid", -1, info.xid.value());
  bson_append_date_time(&set, "commit_time", -1, info.commit_time_us / 1000);
  bson_append_document_end(update.get(), &set);
  bson_append_bool(opts.get(), "upsert", 6, first);
  bson_error_t error;
  if (!mongoc_collection_update_one(coll.get(), selector.get(), update.get(),
                                    opts.get(), reply.get(), &error)) {
    return MongoError(error,
                      fmt::format("recording progress at commit {}", commit));
  }
  bson_iter_t it;
  if (!first && (!bson_iter_init_find(&it, reply.get(), "matchedCount") ||
                 bson_iter_as_int64(&it) != 1)) {
    return Status::Fatal(fmt::format(
        "target {} no longer holds progress at commit {} (its progress "
        "document "
        "{}.{} {{_id: \"{}\"}} is gone or changed): it lost writes it had "
        "acknowledged, or another walapply writes with the same slot key; the "
        "transaction committed at {} was written over that gap and the target "
        "must be rebuilt",
        name_, held_commit_.ToString(), config_.progress_database,
        config_.progress_collection, config_.progress_key, commit));
  }
  return Status::Ok();
}

Status MongoSink::ApplyOnce(const txn::Transaction& txn) {
  std::unordered_map<std::string, std::unique_ptr<Pending>> pending;
  std::vector<Pending*> order;
  uint32_t index = 0;
  failed_change_ = -1;
  Status st = txn.changes->ForEach([&](const model::Change& c) {
    return AddChange(c, txn.info, index++, &pending, &order);
  });
  for (size_t i = 0; st.ok() && i < order.size(); ++i)
    st = Execute(order[i], txn.info);
  if (st.ok()) return WriteProgress(txn.info);
  if (failed_change_ < 0) return st;
  // Name the key of the row whose write failed.
  std::string key;
  index = 0;
  txn.changes
      ->ForEach([&](const model::Change& c) {
        if (static_cast<int64_t>(index++) != failed_change_ ||
            c.relations.empty() || c.kind == model::ChangeKind::kTruncate) {
          return Status::Ok();
        }
        auto s = StateOf(c.relations.front());
        if (!s.ok() || (*s)->key.columns.empty()) return Status::Ok();
        Bson id;
        const model::Tuple* t =
            c.kind == model::ChangeKind::kDelete ? c.old_tuple : c.new_tuple;
        if (t &&
            AppendId(id.get(), *(*s)->rel, (*s)->key, *t, c.old_tuple).ok()) {
          key = IdJson(id.get());
        }
        return Status::Ok();
      })
      .IgnoreError();  // only for the message
  if (key.empty()) return st;
  return Status::Fatal(fmt::format("{} (row key {})", st.message(), key));
}

Status MongoSink::Apply(const txn::Transaction& txn) {
  if (!client_)
    return Status::Fatal(fmt::format("target {} is not open", name_));
  bool retried = false;
  Status st = WithRetry("the write", [&]() -> Status {
    if (retried) {
      // Where does the target stand after the failure?  Writes that were
      // acknowledged must still be there, and the transaction may have
      // been recorded before the connection dropped.
      auto p = ReadProgress();
      if (!p.ok()) return p.status();
      if (p->commit < held_commit_) {
        return Status::Fatal(
            fmt::format("target {} holds progress only up to commit {} after "
                        "reconnecting, but "
                        "transactions up to {} were acknowledged: it lost "
                        "writes (a MongoDB "
                        "restored from an older state?)",
                        name_, p->commit.ToString(), held_commit_.ToString()));
      }
      if (p->commit >= txn.info.commit_lsn) return Status::Ok();
    }
    retried = true;
    return ApplyOnce(txn);
  });
  if (!st.ok()) return st;
  ++stats_.transactions;
  held_commit_ = txn.info.commit_lsn;
  written_end_ = txn.info.end_lsn;
  return Status::Ok();
}

Status MongoSink::Flush() {
  // Apply() returns once the write concern acknowledged the writes.
  durable_end_ = written_end_;
  return Status::Ok();
}

Status MongoSink::Close() {
  Status st = Flush();
  client_.reset();
  return st;
}

}  // namespace walapply::sink::mongodb
