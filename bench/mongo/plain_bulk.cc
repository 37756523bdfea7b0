// plain_bulk.cc
//    The yardstick of the MongoDB benchmark: the operations walapply ends up
//    sending for the standard workload, bulk-written by a plain libmongoc
//    program with no decoding and no progress documents.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// Phases, each in ordered bulks of TXN operations on one collection:
//   1. ROWS replace-with-upsert of whole documents (walapply's inserts);
//   2. ROWS updateOne {$set: every column} (walapply's updates);
//   3. ROWS deleteOne by _id.
// Documents have the shape bench_t's rows map to (document.h).
//
// Usage: plain_bulk URI DATABASE COLLECTION ROWS TXN
// Prints one line per phase: "phase seconds operations".

#include <bson/bson.h>
#include <mongoc/mongoc.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

std::string Md5Hex(int64_t i) {
  // Not md5: any 32 hex digits of the same length do for a benchmark.
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx",
                static_cast<unsigned long long>(i * 0x9E3779B97F4A7C15ULL),
                static_cast<unsigned long long>(i * 0xC2B2AE3D27D4EB4FULL));
  return buf;
}

void AppendColumns(bson_t* d, int64_t i, bool updated) {
  std::string t =
      (Md5Hex(i + (updated ? 7 : 0)) + Md5Hex(i + (updated ? 8 : 1)))
          .substr(0, 50);
  bson_append_int64(d, "id", -1, i);
  bson_append_int32(d, "n", -1, static_cast<int32_t>(i + (updated ? 1 : 0)));
  bson_append_utf8(d, "t", -1, t.c_str(), -1);
  char amount[64];
  std::snprintf(
      amount, sizeof(amount), "%lld.%04lld",
      static_cast<long long>(i * 12345 / 10000 + (updated ? 1 : 0)),
      static_cast<long long>(i * 12345 % 10000 + (updated ? 5000 : 0)) % 10000);
  bson_decimal128_t dec;
  bson_decimal128_from_string(amount, &dec);
  bson_append_decimal128(d, "amount", -1, &dec);
  bson_append_date_time(d, "ts", -1,
                        (1767225600LL + i + (updated ? 3600 : 0)) * 1000);
  bson_append_bool(d, "flag", -1, i % 2 == 0);
  bson_t doc;
  bson_append_document_begin(d, "doc", -1, &doc);
  bson_append_int32(&doc, "k", -1, static_cast<int32_t>(i));
  bson_append_utf8(&doc, "s", -1, updated ? "xyz" : "abc", -1);
  bson_append_document_end(d, &doc);
  uint8_t bytes[16];
  std::string h = Md5Hex(i);
  for (int k = 0; k < 16; ++k)
    bytes[k] = static_cast<uint8_t>(
        std::strtol(h.substr(k * 2, 2).c_str(), nullptr, 16));
  bson_append_binary(d, "b", -1, BSON_SUBTYPE_BINARY, bytes, 16);
  bson_append_binary(d, "u", -1, BSON_SUBTYPE_UUID, bytes, 16);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s URI DATABASE COLLECTION ROWS TXN\n",
                 argv[0]);
    return 2;
  }
  const int64_t rows = std::atoll(argv[4]);
  const int64_t txn = std::atoll(argv[5]);
  mongoc_init();
  mongoc_client_t* client = mongoc_client_new(argv[1]);
  mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
  mongoc_collection_t* coll =
      mongoc_client_get_collection(client, argv[2], argv[3]);
  bson_t upsert = BSON_INITIALIZER;
  BSON_APPEND_BOOL(&upsert, "upsert", true);
  bson_t ordered = BSON_INITIALIZER;
  BSON_APPEND_BOOL(&ordered, "ordered", true);
  const char* names[] = {"insert", "update", "delete"};
  for (int phase = 0; phase < 3; ++phase) {
    auto start = std::chrono::steady_clock::now();
    for (int64_t lo = 1; lo <= rows; lo += txn) {
      mongoc_bulk_operation_t* bulk =
          mongoc_collection_create_bulk_operation_with_opts(coll, &ordered);
      bson_error_t error;
      for (int64_t i = lo; i < lo + txn && i <= rows; ++i) {
        bson_t sel = BSON_INITIALIZER;
        BSON_APPEND_INT64(&sel, "_id", i);
        bool ok = true;
        if (phase == 0) {
          bson_t d = BSON_INITIALIZER;
          BSON_APPEND_INT64(&d, "_id", i);
          AppendColumns(&d, i, false);
          ok = mongoc_bulk_operation_replace_one_with_opts(bulk, &sel, &d,
                                                           &upsert, &error);
          bson_destroy(&d);
        } else if (phase == 1) {
          bson_t u = BSON_INITIALIZER, set;
          bson_append_document_begin(&u, "$set", -1, &set);
          AppendColumns(&set, i, true);
          bson_append_document_end(&u, &set);
          ok = mongoc_bulk_operation_update_one_with_opts(bulk, &sel, &u,
                                                          &upsert, &error);
          bson_destroy(&u);
        } else {
          ok = mongoc_bulk_operation_remove_one_with_opts(bulk, &sel, nullptr,
                                                          &error);
        }
        bson_destroy(&sel);
        if (!ok) {
          std::fprintf(stderr, "plain_bulk: %s\n", error.message);
          return 1;
        }
      }
      bson_t reply;
      if (!mongoc_bulk_operation_execute(bulk, &reply, &error)) {
        std::fprintf(stderr, "plain_bulk: %s\n", error.message);
        return 1;
      }
      bson_destroy(&reply);
      mongoc_bulk_operation_destroy(bulk);
    }
    double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    std::printf("%s %.3f %lld\n", names[phase], secs,
                static_cast<long long>(rows));
  }
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("cpu %.3f\n", ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                                ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  bson_destroy(&upsert);
  bson_destroy(&ordered);
  mongoc_collection_destroy(coll);
  mongoc_client_destroy(client);
  mongoc_cleanup();
  return 0;
}
