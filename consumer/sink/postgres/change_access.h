// change_access.h
//    How the postgres target reads a model::Change.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// The model's Change has held its tuples both by value and by pointer into
// an arena; these accessors read either shape, so the target does not
// depend on that choice.

#pragma once

#include <type_traits>

#include "model/change.h"

namespace walapply::sink::postgres {

template <typename C>
const model::Tuple& NewTuple(const C& c) {
  if constexpr (std::is_pointer_v<decltype(c.new_tuple)>) {
    return *c.new_tuple;
  } else {
    return c.new_tuple;
  }
}

template <typename C>
const model::Tuple& OldTuple(const C& c) {
  if constexpr (std::is_pointer_v<decltype(c.old_tuple)>) {
    return *c.old_tuple;
  } else {
    return c.old_tuple;
  }
}

template <typename C>
bool HasOldTuple(const C& c) {
  if constexpr (std::is_pointer_v<decltype(c.old_tuple)>) {
    return c.old_tuple != nullptr;
  } else {
    return c.has_old_tuple;
  }
}

// The changed relation (insert, update, delete).
template <typename C>
auto RelationOf(const C& c) -> decltype(c.relations.front()) {
  return c.relations.front();
}
template <typename C>
auto RelationOf(const C& c) -> decltype(c.relation_ptr) {
  return c.relation_ptr;
}

// Every relation of a truncate.
template <typename C>
auto TruncatedOf(const C& c) -> decltype((c.relations)) {
  return c.relations;
}
template <typename C>
auto TruncatedOf(const C& c) -> decltype((c.truncated)) {
  return c.truncated;
}

}  // namespace walapply::sink::postgres
