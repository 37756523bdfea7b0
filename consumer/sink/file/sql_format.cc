// sql_format.cc
//    SQL statements that psql replays: the .sql format of the file target.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.
//
// How rows are found again on replay:
//  * With a key (DEFAULT with a primary key, or INDEX): WHERE key = value.
//  * REPLICA IDENTITY FULL: the old row is the identity, but it may have
//    duplicates and columns of types without an equality operator (json,
//    point, ...), so exactly one matching row is picked by ctid and columns
//    are compared through their text form:
//      ... WHERE ctid = (SELECT ctid FROM t WHERE "c"::text = ('v'::T)::text
//                        AND "d" IS NULL LIMIT 1)
//  * No identity (NOTHING, DEFAULT without a primary key): the row cannot be
//    found; the change is written as a comment and counted.

#include <fmt/format.h>

#include "sink/file/format.h"
#include "sink/file/value_text.h"

namespace walapply::sink::file {

namespace pb = wal2proto::v1;
using model::Change;
using model::Column;
using model::Relation;

namespace {

constexpr std::string_view kHeaderLine1 =
    "-- wal2proto change stream written by walapply (SQL format)";
constexpr std::string_view kCommitPrefix = "COMMIT; -- wal2proto commit ";
constexpr std::string_view kMessagePrefix = "-- wal2proto standalone_message ";
constexpr std::string_view kPositionPrefix = "-- wal2proto position ";

bool IsMarker(const model::Value& v) {
  return v.kind_case() == pb::Value::kMarker;
}
bool IsNull(const model::Value& v) {
  return IsMarker(v) && v.marker() == pb::MARKER_NULL;
}

void AppendLiteral(const model::Value& v, std::string* out) {
  switch (v.kind_case()) {
    case pb::Value::kMarker:
      out->append("NULL");
      return;
    case pb::Value::kBoolValue:
      out->append(v.bool_value() ? "true" : "false");
      return;
    case pb::Value::kIntValue:
      out->append(std::to_string(v.int_value()));
      return;
    default: {
      std::string text;
      AppendValueText(v, &text);
      AppendQuotedLiteral(text, out);
    }
  }
}

void AppendTable(const Relation& rel, std::string* out) {
  AppendQuotedIdentifier(rel.schema, out);
  out->push_back('.');
  AppendQuotedIdentifier(rel.name, out);
}

std::string QuoteForComment(const std::string& s) {
  std::string out;
  AppendQuotedLiteral(s, &out);
  return out;
}

class SqlFormat : public Format {
 public:
  const char* name() const override { return "sql"; }

  std::string Header() const override {
    return std::string(kHeaderLine1) +
           "\n-- Replay with: psql -v ON_ERROR_STOP=1 -f FILE.  A transaction "
           "is complete only when its \"COMMIT; -- wal2proto commit\" line "
           "is.\n"
           "SET client_encoding = 'UTF8';\n";
  }

  bool LooksLikeOurs(std::string_view head) const override {
    return head.substr(0, kHeaderLine1.size()) == kHeaderLine1;
  }

  void AppendBegin(const model::TxnInfo& info, std::string* out) override {
    out->append(fmt::format(
        "-- wal2proto begin xid={} commit_lsn={} end_lsn={} "
        "commit_time=",
        info.xid.value(), info.commit_lsn.ToString(), info.end_lsn.ToString()));
    AppendTimestamp(info.commit_time_us, true, out);
    out->append(" origin=");
    out->append(QuoteForComment(info.origin));
    if (info.origin_lsn.valid()) {
      out->append(" origin_lsn=" + info.origin_lsn.ToString());
    }
    if (!info.gid.empty()) out->append(" gid=" + QuoteForComment(info.gid));
    out->append("\nBEGIN;\n");
  }

  void AppendCommit(const model::TxnInfo& info, std::string* out) override {
    out->append(kCommitPrefix);
    out->append(fmt::format("xid={} commit_lsn={} end_lsn={}\n",
                            info.xid.value(), info.commit_lsn.ToString(),
                            info.end_lsn.ToString()));
  }

  void AppendStandaloneMessage(const Change& m, std::string* out) override {
    out->append(kMessagePrefix);
    AppendMessageFields(m, out);
  }

  void AppendPosition(model::Lsn lsn, std::string* out) override {
    out->append(kPositionPrefix);
    out->append("lsn=" + lsn.ToString() + "\n");
  }

  void AppendChange(const Change& c, std::string* out) override {
    switch (c.kind) {
      case model::ChangeKind::kInsert:
        AppendInsert(c, out);
        return;
      case model::ChangeKind::kUpdate:
        AppendUpdate(c, out);
        return;
      case model::ChangeKind::kDelete:
        AppendDelete(c, out);
        return;
      case model::ChangeKind::kTruncate:
        out->append("TRUNCATE ONLY ");
        for (size_t i = 0; i < c.relations.size(); i++) {
          if (i) out->append(", ");
          AppendTable(*c.relations[i], out);
        }
        if (c.restart_identity) out->append(" RESTART IDENTITY");
        if (c.cascade) out->append(" CASCADE");
        out->append(";\n");
        return;
      case model::ChangeKind::kMessage:
        out->append("-- wal2proto message ");
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
      auto commit = Field(line, "commit_lsn=");
      auto end = Field(line, "end_lsn=");
      if (!commit || !end) return std::nullopt;
      r.is_commit = true;
      r.commit_lsn = *commit;
      r.end_lsn = *end;
      return r;
    }
    if (line.substr(0, kMessagePrefix.size()) == kMessagePrefix ||
        line.substr(0, kPositionPrefix.size()) == kPositionPrefix) {
      auto lsn = Field(line, "lsn=");
      if (!lsn) return std::nullopt;
      r.message_lsn = *lsn;
      r.is_position = line.substr(0, kPositionPrefix.size()) == kPositionPrefix;
      return r;
    }
    return std::nullopt;
  }

 private:
  static std::optional<model::Lsn> Field(std::string_view line,
                                         std::string_view key) {
    size_t p = line.find(std::string(" ") + std::string(key));
    if (p == std::string_view::npos) return std::nullopt;
    p += key.size() + 1;
    size_t e = line.find(' ', p);
    return model::Lsn::Parse(
        line.substr(p, e == std::string_view::npos ? e : e - p));
  }

  static void AppendMessageFields(const Change& m, std::string* out) {
    out->append("lsn=" + m.message_lsn.ToString());
    out->append(m.transactional ? " transactional=true"
                                : " transactional=false");
    out->append(" prefix=");
    AppendQuotedLiteral(m.prefix, out);
    out->append(" content=");
    pb::Value v;
    v.set_bytea_value(m.content);
    std::string text;
    AppendValueText(v, &text);
    AppendQuotedLiteral(text, out);
    out->push_back('\n');
  }

  void AppendInsert(const Change& c, std::string* out) {
    const Relation& rel = c.relation();
    out->append("INSERT INTO ");
    AppendTable(rel, out);
    out->append(" (");
    for (size_t i = 0; i < rel.columns.size(); i++) {
      if (i) out->append(", ");
      AppendQuotedIdentifier(rel.columns[i].name, out);
    }
    out->append(") VALUES (");
    for (int i = 0; i < c.new_tuple->values_size(); i++) {
      if (i) out->append(", ");
      AppendLiteral(c.new_tuple->values(i), out);
    }
    out->append(");\n");
  }

  // Appends the WHERE clause that finds the change's row; false when the
  // change carries nothing that identifies it.
  static bool AppendWhere(const Change& c, std::string* out) {
    const Relation& rel = c.relation();
    bool full = rel.replica_identity == pb::REPLICA_IDENTITY_FULL;
    const model::Tuple* key = c.old_tuple;
    std::string conds;
    for (size_t i = 0; i < rel.columns.size(); i++) {
      const Column& col = rel.columns[i];
      const model::Value* v = nullptr;
      if (key) {
        v = &key->values(static_cast<int>(i));
        if (IsMarker(*v) && !IsNull(*v)) continue;  // not sent / toast
        if (!full && !col.identity) continue;
      } else {
        if (!col.identity || full) continue;
        v = &c.new_tuple->values(static_cast<int>(i));
        if (IsMarker(*v)) continue;
      }
      if (!conds.empty()) conds.append(" AND ");
      AppendQuotedIdentifier(col.name, &conds);
      if (IsNull(*v)) {
        conds.append(" IS NULL");
      } else if (full && !col.type_name.empty()) {
        conds.append("::text = (");
        AppendLiteral(*v, &conds);
        conds.append("::" + col.type_name + ")::text");
      } else {
        conds.append(" = ");
        AppendLiteral(*v, &conds);
      }
    }
    if (conds.empty()) return false;
    if (full) {
      out->append(" WHERE ctid = (SELECT ctid FROM ");
      AppendTable(rel, out);
      out->append(" WHERE " + conds + " LIMIT 1)");
    } else {
      out->append(" WHERE " + conds);
    }
    return true;
  }

  void AppendUnreplayable(const Change& c, std::string* out) {
    unreplayable_count_++;
    const Relation& rel = c.relation();
    out->append(fmt::format(
        "-- wal2proto cannot replay: {} of {}.{} has no replica identity\n",
        model::ChangeKindName(c.kind), QuoteForComment(rel.schema),
        QuoteForComment(rel.name)));
  }

  void AppendUpdate(const Change& c, std::string* out) {
    const Relation& rel = c.relation();
    std::string stmt = "UPDATE ";
    AppendTable(rel, &stmt);
    stmt.append(" SET ");
    bool any = false;
    for (size_t i = 0; i < rel.columns.size(); i++) {
      const model::Value& v = c.new_tuple->values(static_cast<int>(i));
      if (IsMarker(v) && !IsNull(v)) continue;  // unchanged TOAST: keep
      if (any) stmt.append(", ");
      any = true;
      AppendQuotedIdentifier(rel.columns[i].name, &stmt);
      stmt.append(" = ");
      AppendLiteral(v, &stmt);
    }
    if (!any || !AppendWhere(c, &stmt)) {
      AppendUnreplayable(c, out);
      return;
    }
    out->append(stmt);
    out->append(";\n");
  }

  void AppendDelete(const Change& c, std::string* out) {
    std::string stmt = "DELETE FROM ";
    AppendTable(c.relation(), &stmt);
    if (!c.has_old_tuple() || !AppendWhere(c, &stmt)) {
      AppendUnreplayable(c, out);
      return;
    }
    out->append(stmt);
    out->append(";\n");
  }
};

}  // namespace

std::unique_ptr<Format> MakeSqlFormat() {
  return std::make_unique<SqlFormat>();
}

}  // namespace walapply::sink::file
