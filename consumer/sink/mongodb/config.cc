// config.cc
//    Settings of a mongodb:// target.
//
// Copyright (c) 2026, the wal2proto authors. PostgreSQL License.

#include "sink/mongodb/config.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <vector>

namespace walapply::sink::mongodb {

namespace {

// Percent-decoding for parameter values (file paths may need it).
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() &&
        isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(
          static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

Result<bool> ParseBool(const std::string& uri, const std::string& name,
                       const std::string& v) {
  if (v == "true" || v == "on" || v == "1") return true;
  if (v == "false" || v == "off" || v == "0") return false;
  return Status::Fatal(fmt::format(
      "invalid --target \"{}\": {} must be true or false", uri, name));
}

Status Nulls(const std::string& where, const std::string& v,
             MappingOptions* m) {
  if (v == "null") {
    m->null_absent = false;
  } else if (v == "absent") {
    m->null_absent = true;
  } else {
    return Status::Fatal(
        fmt::format("{}: nulls must be null or absent", where));
  }
  return Status::Ok();
}

Status ApplyYaml(const std::string& path, TargetConfig* c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    return Status::Fatal(fmt::format(
        "could not read MongoDB target config \"{}\": {}", path, e.what()));
  }
  if (!root.IsMap()) {
    return Status::Fatal(
        fmt::format("MongoDB target config \"{}\" is not a mapping", path));
  }
  try {
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      const YAML::Node& v = kv.second;
      if (key == "progress_database") {
        c->progress_database = v.as<std::string>();
      } else if (key == "progress_collection") {
        c->progress_collection = v.as<std::string>();
      } else if (key == "progress_key") {
        c->progress_key = v.as<std::string>();
      } else if (key == "nulls") {
        WALAPPLY_RETURN_IF_ERROR(Nulls(path, v.as<std::string>(), &c->mapping));
      } else if (key == "keep_key_columns") {
        c->mapping.keep_key_columns = v.as<bool>();
      } else if (key == "micros_field") {
        c->mapping.micros_field = v.as<std::string>();
      } else if (key == "retry_timeout") {
        c->retry_timeout_s = v.as<double>();
      } else if (key == "tables") {
        if (!v.IsMap()) {
          return Status::Fatal(
              fmt::format("{}: tables must be a mapping", path));
        }
        for (const auto& t : v) {
          std::string name = t.first.as<std::string>();
          TableTarget target;
          for (const auto& f : t.second) {
            std::string fk = f.first.as<std::string>();
            if (fk == "database") {
              target.database = f.second.as<std::string>();
            } else if (fk == "collection") {
              target.collection = f.second.as<std::string>();
            } else if (fk == "keep_key_columns") {
              target.keep_key_columns = f.second.as<bool>();
            } else {
              return Status::Fatal(
                  fmt::format("{}: unknown setting \"{}\" of table \"{}\"",
                              path, fk, name));
            }
          }
          c->tables[name] = target;
        }
      } else {
        return Status::Fatal(
            fmt::format("{}: unknown setting \"{}\"", path, key));
      }
    }
  } catch (const YAML::Exception& e) {
    return Status::Fatal(
        fmt::format("bad value in \"{}\": {}", path, e.what()));
  }
  return Status::Ok();
}

}  // namespace

Result<TargetConfig> ParseTarget(const std::string& uri) {
  TargetConfig c;
  size_t q = uri.find('?');
  std::string base = q == std::string::npos ? uri : uri.substr(0, q);
  std::vector<std::string> kept;
  std::vector<std::pair<std::string, std::string>> ours;
  if (q != std::string::npos) {
    std::string query = uri.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      std::string part = query.substr(
          start, amp == std::string::npos ? std::string::npos : amp - start);
      if (!part.empty()) {
        size_t eq = part.find('=');
        std::string name = part.substr(0, eq);
        std::string value =
            eq == std::string::npos ? "" : Unescape(part.substr(eq + 1));
        if (name == "slot" || name == "config" || name == "nulls" ||
            name == "keepKeyColumns" || name == "retryTimeout") {
          ours.emplace_back(name, value);
        } else {
          kept.push_back(part);
        }
      }
      if (amp == std::string::npos) break;
      start = amp + 1;
    }
  }
  for (const auto& [name, value] : ours) {
    if (name == "config") WALAPPLY_RETURN_IF_ERROR(ApplyYaml(value, &c));
  }
  for (const auto& [name, value] : ours) {
    if (name == "slot") {
      c.progress_key = value;
    } else if (name == "nulls") {
      WALAPPLY_RETURN_IF_ERROR(Nulls(
          fmt::format("invalid --target \"{}\"", uri), value, &c.mapping));
    } else if (name == "keepKeyColumns") {
      auto b = ParseBool(uri, name, value);
      if (!b.ok()) return b.status();
      c.mapping.keep_key_columns = *b;
    } else if (name == "retryTimeout") {
      try {
        c.retry_timeout_s = std::stod(value);
      } catch (const std::exception&) {
        return Status::Fatal(fmt::format(
            "invalid --target \"{}\": retryTimeout is a number of seconds",
            uri));
      }
    }
  }
  c.mongo_uri = base;
  if (!kept.empty()) {
    c.mongo_uri += "?";
    for (size_t i = 0; i < kept.size(); ++i) {
      if (i) c.mongo_uri += "&";
      c.mongo_uri += kept[i];
    }
  }
  return c;
}

}  // namespace walapply::sink::mongodb
