// handles.h
//    RAII owners for libmongoc and libbson handles.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Every handle the MongoDB target creates is held by one of these, so no
// error path can leak a client, a bulk operation or a document.  Bson is a
// stack-friendly owner of a bson_t (bson_init / bson_destroy).

#pragma once

#include <bson/bson.h>
#include <mongoc/mongoc.h>

#include <memory>
#include <string>

namespace walapply::sink::mongodb {

struct ClientDeleter {
  void operator()(mongoc_client_t* c) const { mongoc_client_destroy(c); }
};
struct CollectionDeleter {
  void operator()(mongoc_collection_t* c) const {
    mongoc_collection_destroy(c);
  }
};
struct BulkDeleter {
  void operator()(mongoc_bulk_operation_t* b) const {
    mongoc_bulk_operation_destroy(b);
  }
};
struct CursorDeleter {
  void operator()(mongoc_cursor_t* c) const { mongoc_cursor_destroy(c); }
};
struct UriDeleter {
  void operator()(mongoc_uri_t* u) const { mongoc_uri_destroy(u); }
};
struct BsonFree {
  void operator()(char* s) const { bson_free(s); }
};

using ClientPtr = std::unique_ptr<mongoc_client_t, ClientDeleter>;
using CollectionPtr = std::unique_ptr<mongoc_collection_t, CollectionDeleter>;
using BulkPtr = std::unique_ptr<mongoc_bulk_operation_t, BulkDeleter>;
using CursorPtr = std::unique_ptr<mongoc_cursor_t, CursorDeleter>;
using UriPtr = std::unique_ptr<mongoc_uri_t, UriDeleter>;
using BsonString = std::unique_ptr<char, BsonFree>;

// An owned BSON document.  Movable (the bytes are copied into a fresh
// bson_t), not copyable.
class Bson {
 public:
  Bson() { bson_init(&doc_); }
  ~Bson() { bson_destroy(&doc_); }
  Bson(const Bson&) = delete;
  Bson& operator=(const Bson&) = delete;
  Bson(Bson&& other) noexcept {
    bson_init(&doc_);
    bson_concat(&doc_, &other.doc_);
  }
  Bson& operator=(Bson&& other) noexcept {
    bson_reinit(&doc_);
    bson_concat(&doc_, &other.doc_);
    return *this;
  }

  bson_t* get() { return &doc_; }
  const bson_t* get() const { return &doc_; }
  bool empty() const { return bson_empty(&doc_); }

  // Canonical extended JSON (every type explicit), as the tests compare.
  std::string CanonicalJson() const {
    size_t len = 0;
    BsonString s(bson_as_canonical_extended_json(&doc_, &len));
    return s ? std::string(s.get(), len) : std::string();
  }

 private:
  bson_t doc_;
};

}  // namespace walapply::sink::mongodb
