// pg_target.cc
//    What a postgresql:// target names: the connection and the link settings.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/postgres/pg_target.h"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace walapply::sink::postgres {

namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(const std::string& in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); i++) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = HexDigit(in[i + 1]);
    int lo = HexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// Takes one of our parameters; false (with *error set) for a bad value.
// Returns through *ours whether the key was ours.
bool TakeParam(const std::string& uri, const std::string& key,
               const std::string& value, TargetConfig* config, bool* ours,
               std::string* error) {
  *ours = true;
  if (key == "source" || key == "node") {
    if (!ValidNodeName(value)) {
      *error = fmt::format(
          "invalid --target \"{}\": {} \"{}\" is not a node name (letters, "
          "digits and _, at most 50)",
          uri, key, value);
      return false;
    }
    (key == "source" ? config->source_node : config->local_node) = value;
  } else if (key == "resolution" || key.rfind("resolution.", 0) == 0) {
    auto policy = ParsePolicy(value);
    if (!policy) {
      *error = fmt::format(
          "invalid --target \"{}\": unknown resolution \"{}\" "
          "(last_update_wins, "
          "first_update_wins, apply_remote, keep_local, error)",
          uri, value);
      return false;
    }
    if (key == "resolution") {
      config->default_policy = *policy;
    } else {
      std::string table = key.substr(strlen("resolution."));
      if (table.find('.') == std::string::npos) {
        *error = fmt::format(
            "invalid --target \"{}\": \"{}\" must name a table as "
            "resolution.SCHEMA.TABLE",
            uri, key);
        return false;
      }
      config->table_policies[table] = *policy;
    }
  } else if (key.rfind("delta.", 0) == 0) {
    std::string table = key.substr(strlen("delta."));
    if (table.find('.') == std::string::npos || value.empty()) {
      *error = fmt::format(
          "invalid --target \"{}\": counter columns are given as "
          "delta.SCHEMA.TABLE=COLUMN[,COLUMN...]",
          uri);
      return false;
    }
    std::vector<std::string>& cols = config->delta_columns[table];
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      if (comma == std::string::npos) comma = value.size();
      if (comma > pos) cols.push_back(value.substr(pos, comma - pos));
      pos = comma + 1;
    }
  } else if (key == "pipeline") {
    if (value != "on" && value != "off") {
      *error = fmt::format(
          "invalid --target \"{}\": pipeline \"{}\" is not on or off", uri,
          value);
      return false;
    }
    config->pipeline = value == "on";
  } else if (key == "applied_tombstones") {
    if (value != "on" && value != "off") {
      *error = fmt::format(
          "invalid --target \"{}\": applied_tombstones \"{}\" is not on or "
          "off",
          uri, value);
      return false;
    }
    config->applied_tombstones = value == "on";
  } else if (key == "tombstone_retention") {
    char* end = nullptr;
    long long v = std::strtoll(value.c_str(), &end, 10);
    if (value.empty() || *end != '\0' || v < 0) {
      *error = fmt::format(
          "invalid --target \"{}\": tombstone_retention \"{}\" is not a number "
          "of seconds",
          uri, value);
      return false;
    }
    config->tombstone_retention_s = v;
  } else {
    *ours = false;
  }
  return true;
}

// Splits a conninfo string into KEY=VALUE words, keeping each word's text
// as written (quotes and backslashes included) so it can be passed on.
bool SplitConninfo(const std::string& s, std::vector<std::string>* words,
                   std::vector<std::pair<std::string, std::string>>* pairs) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
    if (i >= s.size()) break;
    size_t start = i;
    while (i < s.size() && s[i] != '=' &&
           !std::isspace(static_cast<unsigned char>(s[i])))
      i++;
    std::string key = s.substr(start, i - start);
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
    if (i >= s.size() || s[i] != '=') return false;
    i++;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) i++;
    std::string value;
    if (i < s.size() && s[i] == '\'') {
      i++;
      while (i < s.size() && s[i] != '\'') {
        if (s[i] == '\\' && i + 1 < s.size()) i++;
        value.push_back(s[i++]);
      }
      if (i >= s.size()) return false;
      i++;
    } else {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) {
        if (s[i] == '\\' && i + 1 < s.size()) i++;
        value.push_back(s[i++]);
      }
    }
    words->push_back(s.substr(start, i - start));
    pairs->emplace_back(key, value);
  }
  return true;
}

}  // namespace

bool ValidNodeName(const std::string& name) {
  if (name.empty() || name.size() > 50) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

Policy TargetConfig::PolicyFor(const std::string& schema,
                               const std::string& table) const {
  auto it = table_policies.find(schema + "." + table);
  return it == table_policies.end() ? default_policy : it->second;
}

Result<TargetConfig> ParseTarget(const std::string& uri) {
  TargetConfig config;
  std::string error;
  bool ours = false;
  if (uri.rfind("postgresql://", 0) == 0 || uri.rfind("postgres://", 0) == 0) {
    size_t q = uri.find('?');
    std::string base = uri.substr(0, q);
    std::string kept;
    if (q != std::string::npos) {
      std::string query = uri.substr(q + 1);
      size_t pos = 0;
      while (pos <= query.size()) {
        size_t amp = query.find('&', pos);
        if (amp == std::string::npos) amp = query.size();
        std::string item = query.substr(pos, amp - pos);
        pos = amp + 1;
        if (item.empty()) continue;
        size_t eq = item.find('=');
        std::string key, value;
        if (eq == std::string::npos ||
            !PercentDecode(item.substr(0, eq), &key) ||
            !PercentDecode(item.substr(eq + 1), &value)) {
          return Status::Fatal(
              fmt::format("invalid --target \"{}\": bad query parameter \"{}\"",
                          uri, item));
        }
        if (!TakeParam(uri, key, value, &config, &ours, &error)) {
          return Status::Fatal(error);
        }
        if (!ours) kept += (kept.empty() ? "" : "&") + item;
      }
    }
    config.conninfo = kept.empty() ? base : base + "?" + kept;
  } else if (uri.rfind("postgresql:", 0) == 0) {
    std::vector<std::string> words;
    std::vector<std::pair<std::string, std::string>> pairs;
    if (!SplitConninfo(uri.substr(strlen("postgresql:")), &words, &pairs)) {
      return Status::Fatal(
          fmt::format("invalid --target \"{}\": expected postgresql://URI or "
                      "postgresql:KEY=VALUE ...",
                      uri));
    }
    for (size_t i = 0; i < pairs.size(); i++) {
      if (!TakeParam(uri, pairs[i].first, pairs[i].second, &config, &ours,
                     &error)) {
        return Status::Fatal(error);
      }
      if (!ours)
        config.conninfo += (config.conninfo.empty() ? "" : " ") + words[i];
    }
  } else {
    return Status::Fatal(
        fmt::format("invalid --target \"{}\": not a postgresql target", uri));
  }
  if (config.source_node.empty()) {
    return Status::Fatal(
        fmt::format("invalid --target \"{}\": no source node: add source=NAME "
                    "(the node the "
                    "changes come from) or use --source-node",
                    uri));
  }
  if (config.local_node.empty()) {
    return Status::Fatal(fmt::format(
        "invalid --target \"{}\": no node name: add node=NAME (this target's "
        "name in the topology) or use --node",
        uri));
  }
  if (config.local_node == config.source_node) {
    return Status::Fatal(
        fmt::format("invalid --target \"{}\": source and node are both \"{}\"",
                    uri, config.local_node));
  }
  return config;
}

}  // namespace walapply::sink::postgres
