// change.cc
//    Helpers of the change model.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "model/change.h"

namespace walapply::model {

const char* ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kInsert:
      return "insert";
    case ChangeKind::kUpdate:
      return "update";
    case ChangeKind::kDelete:
      return "delete";
    case ChangeKind::kTruncate:
      return "truncate";
    case ChangeKind::kMessage:
      return "message";
  }
  return "unknown";
}

size_t Change::ApproximateBytes() const {
  // The parsed form takes a few times the encoded size (a Value object per
  // column); an estimate is all the spill decision needs.
  return sizeof(Change) +
         2 * (old_tuple.ByteSizeLong() + new_tuple.ByteSizeLong()) +
         48 * (old_tuple.values_size() + new_tuple.values_size()) +
         prefix.capacity() + content.capacity() +
         relations.capacity() * sizeof(RelationPtr);
}

}  // namespace walapply::model
