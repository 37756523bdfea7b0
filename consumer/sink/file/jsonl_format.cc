// jsonl_format.cc
//    JSON Lines: the .jsonl format of the file target.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// One object per line: a begin line, one line per change, a commit line.
// Rows are objects keyed by column name.  Values are typed and lossless:
//   NULL -> null; bool -> true/false; int2/int4/int8/oid -> JSON integer
//   (exact; readers that hold numbers as doubles should take care beyond
//   2^53); float4/float8 -> the shortest number that reads back exactly,
//   or the strings "NaN", "Infinity", "-Infinity"; jsonb -> the JSON value
//   itself; arrays with default bounds -> nested JSON arrays of elements;
//   everything else (numeric, text, bytea as "\x..", dates and times in ISO
//   form, uuid, json, intervals, arrays with other bounds, other types) ->
//   a string holding PostgreSQL's text input form.
// Update: "old" (the identity, when sent), "new", and "unchanged_toast":
// the names of columns left out of "new" because their value did not change.
// Before the first change of a relation in a file, and again after its
// schema changed, a "relation" line gives every column's SQL type, type oid
// and whether it is part of the replica identity, so that a reader can tell
// a bytea "\x.." from a text, or a jsonb array from an int[].

#include <fmt/format.h>

#include <unordered_map>

#include "sink/file/format.h"
#include "sink/file/value_text.h"

namespace walapply::sink::file {

namespace pb = wal2proto::v1;
using model::Change;
using model::Relation;

namespace {

constexpr uint32_t kJsonbOid = 3802;
constexpr std::string_view kCommitPrefix = "{\"kind\":\"commit\",";
constexpr std::string_view kMessagePrefix = "{\"kind\":\"standalone_message\",";
constexpr std::string_view kPositionPrefix = "{\"kind\":\"position\",";

void AppendJsonValue(const model::Value& v, uint32_t type_oid,
                     std::string* out);

void AppendJsonArrayLevel(const pb::Array& a, int dim, int* next,
                          std::string* out) {
  out->push_back('[');
  for (int i = 0; i < a.dimensions(dim); i++) {
    if (i) out->push_back(',');
    if (dim + 1 < a.dimensions_size()) {
      AppendJsonArrayLevel(a, dim + 1, next, out);
    } else {
      AppendJsonValue(a.elements((*next)++), a.element_type_oid(), out);
    }
  }
  out->push_back(']');
}

void AppendJsonValue(const model::Value& v, uint32_t type_oid,
                     std::string* out) {
  switch (v.kind_case()) {
    case pb::Value::kMarker:
      out->append("null");
      return;
    case pb::Value::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      return;
    case pb::Value::kIntValue:
      out->append(std::to_string(v.int_value()));
      return;
    case pb::Value::kFloat4Value:
    case pb::Value::kFloat8Value: {
      std::string text;
      AppendValueText(v, &text);
      if (text == "NaN" || text == "Infinity" || text == "-Infinity") {
        AppendJsonString(text, out);
      } else {
        out->append(text);
      }
      return;
    }
    case pb::Value::kJsonValue:
      if (type_oid == kJsonbOid) {
        out->append(v.json_value());  // canonical jsonb text: one line
      } else {
        AppendJsonString(v.json_value(), out);
      }
      return;
    case pb::Value::kArrayValue: {
      const pb::Array& a = v.array_value();
      bool default_bounds = true;
      for (int lb : a.lower_bounds()) default_bounds &= (lb == 1);
      if (a.dimensions_size() == 0 || a.elements_size() == 0) {
        out->append("[]");
        return;
      }
      if (default_bounds) {
        int next = 0;
        AppendJsonArrayLevel(a, 0, &next, out);
        return;
      }
      break;
    }
    default:
      break;
  }
  std::string text;
  AppendValueText(v, &text);
  AppendJsonString(text, out);
}

uint32_t EffectiveType(const model::Column& c) {
  return c.base_type_oid ? c.base_type_oid : c.type_oid;
}

// Appends "name":value for each column with a value; collects the names of
// unchanged-TOAST columns.
void AppendRow(const Relation& rel, const model::Tuple& t, std::string* out,
               std::vector<const std::string*>* toast) {
  out->push_back('{');
  bool first = true;
  for (size_t i = 0; i < rel.columns.size(); i++) {
    const model::Value& v = t.values(static_cast<int>(i));
    if (v.kind_case() == pb::Value::kMarker && v.marker() != pb::MARKER_NULL) {
      if (toast && v.marker() == pb::MARKER_UNCHANGED_TOAST) {
        toast->push_back(&rel.columns[i].name);
      }
      continue;
    }
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(rel.columns[i].name, out);
    out->push_back(':');
    AppendJsonValue(v, EffectiveType(rel.columns[i]), out);
  }
  out->push_back('}');
}

void AppendRelationFields(const Relation& rel, std::string* out) {
  out->append("\"schema\":");
  AppendJsonString(rel.schema, out);
  out->append(",\"table\":");
  AppendJsonString(rel.name, out);
}

const char* IdentityName(model::ReplicaIdentity ri) {
  switch (ri) {
    case pb::REPLICA_IDENTITY_DEFAULT:
      return "default";
    case pb::REPLICA_IDENTITY_NOTHING:
      return "nothing";
    case pb::REPLICA_IDENTITY_FULL:
      return "full";
    case pb::REPLICA_IDENTITY_INDEX:
      return "index";
    default:
      return "unspecified";
  }
}

class JsonlFormat : public Format {
 public:
  const char* name() const override { return "jsonl"; }
  void OnNewFile() override { described_.clear(); }
  std::string Header() const override { return ""; }
  bool LooksLikeOurs(std::string_view head) const override {
    return head.substr(0, 9) == "{\"kind\":\"";
  }

  void AppendBegin(const model::TxnInfo& info, std::string* out) override {
    out->append(fmt::format(
        "{{\"kind\":\"begin\",\"xid\":{},\"commit_lsn\":\"{}\",\"end_lsn\":\"{}"
        "\","
        "\"commit_time\":\"",
        info.xid.value(), info.commit_lsn.ToString(), info.end_lsn.ToString()));
    AppendTimestamp(info.commit_time_us, true, out);
    out->append("\",\"origin\":");
    AppendJsonString(info.origin, out);
    if (info.origin_lsn.valid()) {
      out->append(",\"origin_lsn\":\"" + info.origin_lsn.ToString() + "\"");
    }
    if (!info.gid.empty()) {
      out->append(",\"gid\":");
      AppendJsonString(info.gid, out);
    }
    out->append("}\n");
  }

  void AppendCommit(const model::TxnInfo& info, std::string* out) override {
    out->append(kCommitPrefix);
    out->append(fmt::format(
        "\"xid\":{},\"commit_lsn\":\"{}\",\"end_lsn\":\"{}\"}}\n",
        info.xid.value(), info.commit_lsn.ToString(), info.end_lsn.ToString()));
  }

  void AppendStandaloneMessage(const Change& m, std::string* out) override {
    out->append(kMessagePrefix);
    AppendMessageFields(m, out);
  }

  void AppendPosition(model::Lsn lsn, std::string* out) override {
    out->append(kPositionPrefix);
    out->append("\"lsn\":\"" + lsn.ToString() + "\"}\n");
  }

  void AppendChange(const Change& c, std::string* out) override {
    for (const model::RelationPtr& rel : c.relations) Describe(rel, out);
    switch (c.kind) {
      case model::ChangeKind::kInsert:
        out->append("{\"kind\":\"insert\",");
        AppendRelationFields(c.relation(), out);
        out->append(",\"new\":");
        AppendRow(c.relation(), *c.new_tuple, out, nullptr);
        out->append("}\n");
        return;
      case model::ChangeKind::kUpdate: {
        out->append("{\"kind\":\"update\",");
        AppendRelationFields(c.relation(), out);
        if (c.has_old_tuple()) {
          out->append(",\"old\":");
          AppendRow(c.relation(), *c.old_tuple, out, nullptr);
        }
        out->append(",\"new\":");
        std::vector<const std::string*> toast;
        AppendRow(c.relation(), *c.new_tuple, out, &toast);
        if (!toast.empty()) {
          out->append(",\"unchanged_toast\":[");
          for (size_t i = 0; i < toast.size(); i++) {
            if (i) out->push_back(',');
            AppendJsonString(*toast[i], out);
          }
          out->push_back(']');
        }
        out->append("}\n");
        return;
      }
      case model::ChangeKind::kDelete:
        out->append("{\"kind\":\"delete\",");
        AppendRelationFields(c.relation(), out);
        if (c.has_old_tuple()) {
          out->append(",\"old\":");
          AppendRow(c.relation(), *c.old_tuple, out, nullptr);
        }
        out->append("}\n");
        return;
      case model::ChangeKind::kTruncate:
        out->append("{\"kind\":\"truncate\",\"relations\":[");
        for (size_t i = 0; i < c.relations.size(); i++) {
          if (i) out->push_back(',');
          out->push_back('{');
          AppendRelationFields(*c.relations[i], out);
          out->push_back('}');
        }
        out->append(fmt::format("],\"cascade\":{},\"restart_identity\":{}}}\n",
                                c.cascade, c.restart_identity));
        return;
      case model::ChangeKind::kMessage:
        out->append("{\"kind\":\"message\",");
        AppendMessageFields(c, out);
        return;
    }
  }

  bool IsRecordEndPrefix(std::string_view s) const override {
    return s.substr(0, kCommitPrefix.size()) == kCommitPrefix ||
           s.substr(0, kMessagePrefix.size()) == kMessagePrefix ||
           s.substr(0, kPositionPrefix.size()) == kPositionPrefix;
  }
  size_t record_end_prefix_bytes() const override {
    return std::max(kCommitPrefix.size(), kMessagePrefix.size());
  }

  std::optional<RecordEnd> ParseRecordEnd(
      std::string_view line) const override {
    RecordEnd r;
    if (line.substr(0, kCommitPrefix.size()) == kCommitPrefix) {
      auto commit = Field(line, "\"commit_lsn\":\"");
      auto end = Field(line, "\"end_lsn\":\"");
      if (!commit || !end || line.back() != '}') return std::nullopt;
      r.is_commit = true;
      r.commit_lsn = *commit;
      r.end_lsn = *end;
      return r;
    }
    if (line.substr(0, kMessagePrefix.size()) == kMessagePrefix ||
        line.substr(0, kPositionPrefix.size()) == kPositionPrefix) {
      auto lsn = Field(line, "\"lsn\":\"");
      if (!lsn || line.back() != '}') return std::nullopt;
      r.message_lsn = *lsn;
      r.is_position = line.substr(0, kPositionPrefix.size()) == kPositionPrefix;
      return r;
    }
    return std::nullopt;
  }

 private:
  // Writes a relation line unless this version was described in this file.
  void Describe(const model::RelationPtr& rel, std::string* out) {
    auto it = described_.find(rel->id.value());
    if (it != described_.end() && it->second == rel) return;
    described_[rel->id.value()] = rel;
    out->append("{\"kind\":\"relation\",");
    AppendRelationFields(*rel, out);
    out->append(",\"replica_identity\":\"");
    out->append(IdentityName(rel->replica_identity));
    out->append("\",\"columns\":[");
    for (size_t i = 0; i < rel->columns.size(); i++) {
      const model::Column& col = rel->columns[i];
      if (i) out->push_back(',');
      out->append("{\"name\":");
      AppendJsonString(col.name, out);
      out->append(",\"type\":");
      AppendJsonString(col.type_name, out);
      out->append(fmt::format(",\"type_oid\":{},\"key\":{}}}", col.type_oid,
                              col.identity));
    }
    out->append("]}\n");
  }

  // The relation version last described in the current file, by relation
  // id (held, so that its address cannot be reused by a later version).
  std::unordered_map<uint32_t, model::RelationPtr> described_;

  static std::optional<model::Lsn> Field(std::string_view line,
                                         std::string_view key) {
    size_t p = line.find(key);
    if (p == std::string_view::npos) return std::nullopt;
    p += key.size();
    size_t e = line.find('"', p);
    if (e == std::string_view::npos) return std::nullopt;
    return model::Lsn::Parse(line.substr(p, e - p));
  }

  static void AppendMessageFields(const Change& m, std::string* out) {
    out->append("\"lsn\":\"" + m.message_lsn.ToString() + "\"");
    out->append(m.transactional ? ",\"transactional\":true"
                                : ",\"transactional\":false");
    out->append(",\"prefix\":");
    AppendJsonString(m.prefix, out);
    out->append(",\"content\":");
    pb::Value v;
    v.set_bytea_value(m.content);
    std::string text;
    AppendValueText(v, &text);
    AppendJsonString(text, out);
    out->append("}\n");
  }
};

}  // namespace

std::unique_ptr<Format> MakeJsonlFormat() {
  return std::make_unique<JsonlFormat>();
}

}  // namespace walapply::sink::file
