// Options from an INI `[profiler]` section (inih) and DBTRACE_* environment variables.
#include <ini.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <set>
#include <sstream>

#include "dbtrace/error.hpp"
#include "dbtrace/options.hpp"

namespace dbtrace {
namespace {

// OSProfiler keys that mean nothing to dbtrace; accepted so that an OpenStack
// service's [profiler] section loads unchanged.
const std::set<std::string> osprofiler_only_keys = {"es_doc_type",           "es_scroll_time",
                                                    "es_scroll_size",        "socket_timeout",
                                                    "sentinel_service_name", "trace_requests"};

const char* const known_keys[] = {"enabled",
                                  "trace_sqlalchemy",
                                  "trace_sql",
                                  "hmac_keys",
                                  "connection_string",
                                  "project",
                                  "service",
                                  "filter_error_trace",
                                  "record_params",
                                  "sanitize_statements",
                                  "max_statement_length",
                                  "sample_rate",
                                  "sqlcommenter",
                                  "queue_size"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

[[noreturn]] void bad(const std::string& where, const std::string& key, const std::string& what) {
  throw config_error(where + ": " + key + ": " + what);
}

bool parse_bool(const std::string& where, const std::string& key, const std::string& v) {
  const std::string l = lower(trim(v));
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  bad(where, key, "expected true or false, got '" + v + "'");
}

std::size_t parse_size(const std::string& where, const std::string& key, const std::string& v,
                       std::size_t min, std::size_t max) {
  const std::string t = trim(v);
  char* end = nullptr;
  errno = 0;
  const unsigned long long n = std::strtoull(t.c_str(), &end, 10);
  if (t.empty() || t[0] == '-' || *end != '\0' || errno == ERANGE || n < min || n > max)
    bad(where, key,
        "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
            ", got '" + v + "'");
  return static_cast<std::size_t>(n);
}

bool known_scheme(const std::string& cs) {
  for (const char* scheme : {"sqlite://", "file://", "memory://", "postgresql://", "postgres://",
                             "postgresql+", "redis://", "otlp://", "http://", "https://"})
    if (cs.rfind(scheme, 0) == 0) return true;
  return false;
}

}  // namespace

void set_option(options& o, const std::string& raw_key, const std::string& value,
                const std::string& where) {
  const std::string key = lower(trim(raw_key));
  if (key == "enabled")
    o.enabled = parse_bool(where, key, value);
  else if (key == "trace_sqlalchemy" || key == "trace_sql")
    o.trace_sql = parse_bool(where, key, value);
  else if (key == "hmac_keys") {
    o.hmac_keys.clear();
    std::stringstream ss(value);
    for (std::string k; std::getline(ss, k, ',');)
      if (!trim(k).empty()) o.hmac_keys.push_back(trim(k));
    if (o.hmac_keys.empty()) bad(where, key, "needs at least one key");
  } else if (key == "connection_string") {
    const std::string cs = trim(value);
    if (!known_scheme(cs))
      bad(where, key,
          "unknown scheme in '" + cs.substr(0, cs.find("://")) +
              "' (expected sqlite://, file://, memory://, postgresql://, redis:// or otlp://)");
    o.connection_string = cs;
  } else if (key == "project")
    o.project = trim(value);
  else if (key == "service")
    o.service = trim(value);
  else if (key == "filter_error_trace")
    o.filter_error_trace = parse_bool(where, key, value);
  else if (key == "record_params")
    o.record_params = parse_bool(where, key, value);
  else if (key == "sanitize_statements")
    o.sanitize_statements = parse_bool(where, key, value);
  else if (key == "max_statement_length")
    o.max_statement_length = parse_size(where, key, value, 16, std::size_t{1} << 30);
  else if (key == "sample_rate") {
    const std::string t = trim(value);
    char* end = nullptr;
    const double r = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0' || !(r >= 0.0 && r <= 1.0))
      bad(where, key, "expected a number from 0 to 1, got '" + value + "'");
    o.sample_rate = r;
  } else if (key == "sqlcommenter")
    o.sqlcommenter = parse_bool(where, key, value);
  else if (key == "queue_size")
    o.queue_size = parse_size(where, key, value, 64, std::size_t{1} << 26);
  else if (osprofiler_only_keys.count(key) == 0)
    bad(where, raw_key, "unknown key");
}

options apply_environment(options base) {
  for (const char* key : known_keys) {
    std::string var = "DBTRACE_" + std::string(key);
    std::transform(var.begin(), var.end(), var.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    if (const char* v = std::getenv(var.c_str())) set_option(base, key, v, "environment " + var);
  }
  return base;
}

options load_options(const std::string& path) {
  struct state {
    const std::string& path;
    options o;
    std::string error;
  } st{path, {}, {}};
  const int rc = ini_parse(
      path.c_str(),
      [](void* user, const char* section, const char* name, const char* value) -> int {
        auto* s = static_cast<state*>(user);
        if (lower(section) != "profiler") return 1;
        try {
          set_option(s->o, name, value, s->path);
        } catch (const config_error& e) {
          if (s->error.empty()) s->error = e.what();
          return 0;
        }
        return 1;
      },
      &st);
  if (rc == -1) throw config_error(path + ": cannot open the file");
  if (rc == -2) throw config_error(path + ": out of memory while reading");
  if (rc > 0) {
    // inih reports the first line it stopped at: a handler refusal or a syntax error.
    const std::string where = path + ":" + std::to_string(rc);
    if (!st.error.empty()) {
      throw config_error(where + st.error.substr(path.size()));
    }
    throw config_error(where + ": not a `key = value` line or `[section]` header");
  }
  return apply_environment(std::move(st.o));
}

}  // namespace dbtrace
