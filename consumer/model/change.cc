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
  size_t bytes = sizeof(Change) + prefix.capacity() + content.capacity() +
                 relations.capacity() * sizeof(RelationPtr);
  for (const Tuple* t : {old_tuple, new_tuple}) {
    if (t) bytes += 2 * t->ByteSizeLong() + 48 * t->values_size();
  }
  return bytes;
}

}  // namespace walapply::model
