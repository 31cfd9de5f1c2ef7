// SPDX-License-Identifier: Apache-2.0
// Options from an INI `[profiler]` section (inih) and DBTRACE_* environment variables.
#include <ini.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

#include "dbtrace/detail/closest_word.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/error.hpp"
#include "dbtrace/options.hpp"

extern char** environ;

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
                                  "max_param_length",
                                  "sample_rate",
                                  "sqlcommenter",
                                  "queue_size",
                                  "queue_bytes",
                                  "flush_timeout",
                                  "shutdown_timeout",
                                  "otlp_endpoint",
                                  "otlp_protocol",
                                  "otlp_headers",
                                  "otlp_timeout",
                                  "otlp_compression",
                                  "otlp_certificate",
                                  "otlp_client_certificate",
                                  "otlp_client_key"};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t\r\n") - b + 1);
}

// A bad value is quoted only when it is a plain word or number: a line gone
// wrong can hold a password (a connection string on the wrong key, mangled
// past what redaction recognises), and a message must never print one.
std::string shown(const std::string& value) {
  const bool plain = value.size() <= 40 && std::all_of(value.begin(), value.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                              c == '-' || c == '+' || c == '/' || c == '_' || c == ' ';
                     });
  if (plain) return "'" + value + "'";
  return "a value of " + std::to_string(value.size()) +
         " bytes (not shown: it may hold a secret)";
}

std::string did_you_mean(const std::string& key) {
  const std::string best =
      detail::closest_word(key, {std::begin(known_keys), std::end(known_keys)});
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

[[noreturn]] void bad(const std::string& where, const std::string& key, const std::string& what) {
  throw config_error(where + ": " + key + ": " + what);
}

bool parse_bool(const std::string& where, const std::string& key, const std::string& v) {
  const std::string l = lower(trim(v));
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  bad(where, key, "expected true or false, got " + shown(v));
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
            ", got " + shown(v));
  return static_cast<std::size_t>(n);
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
    // Only the form is judged here; which schemes a store serves is the
    // registry's to say (init, make_writer), stores registered by the
    // application included. The problem never quotes a password: a string
    // without a scheme may be a libpq one ("host=db password=…").
    if (const auto problem = connection_uri_problem(cs); !problem.empty()) bad(where, key, problem);
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
  else if (key == "max_param_length")
    o.max_param_length = parse_size(where, key, value, 16, std::size_t{1} << 30);
  else if (key == "sample_rate") {
    const std::string t = trim(value);
    char* end = nullptr;
    const double r = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0' || !(r >= 0.0 && r <= 1.0))
      bad(where, key, "expected a number from 0 to 1, got " + shown(value));
    o.sample_rate = r;
  } else if (key == "sqlcommenter")
    o.sqlcommenter = parse_bool(where, key, value);
  else if (key == "queue_size")
    o.queue_size = parse_size(where, key, value, 64, max_queue_size);
  else if (key == "queue_bytes")
    o.queue_bytes = parse_size(where, key, value, std::size_t{1} << 20, std::size_t{1} << 40);
  else if (key == "flush_timeout" || key == "shutdown_timeout") {
    const std::string t = trim(value);
    char* end = nullptr;
    const double seconds = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0' || !(seconds > 0.0 && seconds <= 3600.0))
      bad(where, key, "expected seconds, more than 0 and at most 3600, got " + shown(value));
    (key == "flush_timeout" ? o.flush_timeout : o.shutdown_timeout) = seconds;
  } else if (key == "otlp_endpoint") {
    const std::string url = trim(value);
    if (!url.empty() && url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
      bad(where, key, "expected an http:// or https:// URL");
    o.otlp_endpoint = url;
  } else if (key == "otlp_protocol") {
    const std::string protocol = lower(trim(value));
    if (protocol != "http/protobuf" && protocol != "http/json")
      bad(where, key, "expected http/protobuf or http/json, got " + shown(value));
    o.otlp_protocol = protocol;
  } else if (key == "otlp_headers")
    o.otlp_headers = trim(value);  // not quoted in errors: it usually holds an API key
  else if (key == "otlp_timeout")
    o.otlp_timeout = parse_size(where, key, value, 1, 3600000);
  else if (key == "otlp_compression") {
    const std::string c = lower(trim(value));
    if (c != "none" && c != "gzip") bad(where, key, "expected none or gzip, got " + shown(value));
    o.otlp_compression = c;
  } else if (key == "otlp_certificate")
    o.otlp_certificate = trim(value);
  else if (key == "otlp_client_certificate")
    o.otlp_client_certificate = trim(value);
  else if (key == "otlp_client_key")
    o.otlp_client_key = trim(value);
  else if (osprofiler_only_keys.count(key) == 0)
    bad(where, raw_key, "unknown key" + did_you_mean(key));
}

namespace {

bool is_known_key(const std::string& key) {
  return std::find(std::begin(known_keys), std::end(known_keys), key) != std::end(known_keys);
}

}  // namespace

options apply_environment(options base) {
  // A DBTRACE_ variable that names no key is a typo, as it would be in the
  // file. DBTRACE_TEST_* and DBTRACE_BENCH_* belong to dbtrace's own tests.
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    if (entry.rfind("DBTRACE_", 0) != 0) continue;
    const std::string var = entry.substr(0, entry.find('='));
    if (var.rfind("DBTRACE_TEST_", 0) == 0 || var.rfind("DBTRACE_BENCH_", 0) == 0) continue;
    const std::string key = lower(var.substr(8));
    if (!is_known_key(key)) bad("environment " + var, key, "unknown key" + did_you_mean(key));
  }
  for (const char* key : known_keys) {
    std::string var = "DBTRACE_" + std::string(key);
    std::transform(var.begin(), var.end(), var.begin(),
                   [](unsigned char c) { return std::toupper(c); });
    if (const char* v = std::getenv(var.c_str())) set_option(base, key, v, "environment " + var);
  }
  return base;
}

namespace {

// inih is handed this as the value of a line it could not be given whole (a
// long line, or one with continuation lines); the handler takes the value
// from file_state::whole_value instead.
constexpr const char* whole_value_marker = "\x1f";

// What the reader and the handler share while inih reads one file: the line
// inih is on, the sections seen, where each key was set, and the first error.
struct file_state {
  std::string path;
  std::ifstream in;
  options& o;
  int line = 0;                       // the first line of what inih was last given
  int lines_read = 0;
  std::optional<std::string> ahead;   // a line read to look for continuation lines
  bool in_profiler = false;
  bool saw_profiler = false;
  std::vector<std::pair<std::string, int>> sections;  // other sections and their lines
  std::string whole_value;
  std::map<std::string, int> set_at;  // key -> line
  std::string error;
  int error_line = 0;

  file_state(std::string p, options& into) : path(std::move(p)), in(path), o(into) {}

  void fail(int at, const std::string& what) {
    if (!error.empty()) return;
    error = path + ":" + std::to_string(at) + ": " + what;
    error_line = at;
  }

  bool next(std::string& text) {
    if (ahead) {
      text = std::move(*ahead);
      ahead.reset();
      return true;
    }
    if (!std::getline(in, text)) return false;
    ++lines_read;
    return true;
  }
};

bool starts_blank(const std::string& text) {
  return !text.empty() && (text[0] == ' ' || text[0] == '\t');
}

// Hands inih one line: `text` and a newline, or empty if it does not fit.
char* give(char* buffer, int size, std::string text) {
  text += '\n';
  if (text.size() + 1 > static_cast<std::size_t>(size)) text = "\n";
  std::memcpy(buffer, text.c_str(), text.size() + 1);
  return buffer;
}

// Feeds inih the file as oslo.config reads it. Lines outside [profiler] are
// someone else's and are never judged (inih sees blank lines). In
// [profiler], a value of any length, one continued on indented lines
// (joined with newlines, as oslo.config joins them) and one in quotes (taken
// off, as oslo.config takes them off) reach the handler as oslo.config reads them;
// an inline comment is refused (oslo.config keeps it in the value, inih
// would drop it).
char* read_line(char* buffer, int size, void* stream) {
  auto* st = static_cast<file_state*>(stream);
  std::string text;
  if (!st->next(text)) return nullptr;
  st->line = st->lines_read;
  const std::string t = trim(text);
  if (!t.empty() && t[0] == '[' && !starts_blank(text)) {
    const std::string name = lower(trim(t.substr(1, t.find(']') - 1)));
    st->in_profiler = name == "profiler" && t.back() == ']';
    if (name == "profiler" && !st->in_profiler) {
      st->fail(st->line, "a [profiler] header without its ']'");
      return give(buffer, size, "");
    }
    if (st->in_profiler) {
      st->saw_profiler = true;
      return give(buffer, size, "[profiler]");
    }
    st->sections.emplace_back(name, st->line);
    return give(buffer, size, "[other]");
  }
  if (!st->in_profiler || t.empty() || t[0] == ';' || t[0] == '#') return give(buffer, size, "");
  if (starts_blank(text)) {
    st->fail(st->line, "an indented line that continues no key (oslo.config refuses it)");
    return give(buffer, size, "");
  }
  if (text.find(" ;") != std::string::npos || text.find("\t;") != std::string::npos) {
    st->fail(st->line,
             "an inline comment (' ;'): oslo.config reads it as part of the value, so Python "
             "services would disagree; put the comment on a line of its own");
    return give(buffer, size, "");
  }
  const auto split = t.find_first_of("=:");
  if (split == std::string::npos) {
    st->fail(st->line, "not a `key = value` line");
    return give(buffer, size, "");
  }
  std::string continued;
  for (std::string next; st->next(next);) {
    if (!starts_blank(next) || trim(next).empty()) {
      st->ahead = std::move(next);
      break;
    }
    continued += "\n" + trim(next);
  }
  // oslo.config takes a value's surrounding quotes off ("SECRET" is SECRET).
  std::string value = trim(t.substr(split + 1));
  const bool quoted = !value.empty() && (value[0] == '"' || value[0] == '\'') &&
                      value.back() == value[0];
  if (quoted) value = value.size() > 1 ? value.substr(1, value.size() - 2) : "";
  if (continued.empty() && !quoted && t.size() + 2 <= static_cast<std::size_t>(size))
    return give(buffer, size, t);
  if (split + 8 > static_cast<std::size_t>(size)) {
    st->fail(st->line, "a key of " + std::to_string(split) + " bytes (no key is that long)");
    return give(buffer, size, "");
  }
  st->whole_value = value + continued;
  return give(buffer, size, t.substr(0, split) + "=" + whole_value_marker);
}

int on_key(void* user, const char* section, const char* name, const char* value) {
  auto* st = static_cast<file_state*>(user);
  if (std::strcmp(section, "profiler") != 0) return 1;
  const std::string key = lower(trim(name));
  if (const auto [it, added] = st->set_at.emplace(key, st->line); !added) {
    st->fail(st->line, key + ": set again (first on line " + std::to_string(it->second) + ")");
    return 1;
  }
  try {
    set_option(st->o, name, std::strcmp(value, whole_value_marker) == 0 ? st->whole_value : value,
               st->path + ":" + std::to_string(st->line));
  } catch (const config_error& e) {
    if (st->error.empty()) {
      st->error = e.what();
      st->error_line = st->line;
    }
  }
  return 1;
}

// sqlite:///relative.db in a file means next to the file, not the current directory.
void resolve_relative_store(options& o, const std::string& path) {
  const std::string prefix = "sqlite:///";
  if (o.connection_string.rfind(prefix, 0) != 0) return;
  const std::string rest = o.connection_string.substr(prefix.size());
  if (rest.empty() || rest[0] == '/' || rest.rfind(":memory:", 0) == 0) return;
  const auto dir = std::filesystem::absolute(path).parent_path();
  o.connection_string = prefix + (dir / rest).lexically_normal().string();
}

// So are the certificate files a file names.
void resolve_relative_files(options& o, const std::string& path) {
  const auto dir = std::filesystem::absolute(path).parent_path();
  for (std::string* file : {&o.otlp_certificate, &o.otlp_client_certificate, &o.otlp_client_key})
    if (!file->empty() && (*file)[0] != '/') *file = (dir / *file).lexically_normal().string();
}

// Reads one file's [profiler] section onto `o` (keys it sets override).
void read_file(const std::string& path, options& o) {
  file_state st(path, o);
  if (!st.in) throw config_error(path + ": cannot open the file");
  const int rc = ini_parse_stream(read_line, &st, on_key, &st);
  if (rc > 0 && (st.error.empty() || rc < st.error_line))
    throw config_error(path + ":" + std::to_string(rc) +
                       ": not a `key = value` line or `[section]` header");
  if (rc == -2) throw config_error(path + ": out of memory while reading");
  if (!st.error.empty()) throw config_error(st.error);
  // A near miss would leave tracing off without a word.
  if (!st.saw_profiler)
    for (const auto& [name, line] : st.sections)
      if (name != "default" && !detail::closest_word(name, {"profiler"}, 2).empty())
        throw config_error(path + ":" + std::to_string(line) + ": [" + name +
                           "]: not a section dbtrace reads (did you mean [profiler]?); without "
                           "[profiler] tracing stays off");
  if (st.set_at.count("connection_string")) resolve_relative_store(o, path);
  resolve_relative_files(o, path);
}

}  // namespace

options load_options(const std::string& path) {
  return load_options(std::vector<std::string>{path});
}

options load_options(const std::vector<std::string>& config_files, const std::string& config_dir) {
  std::vector<std::string> paths = config_files;
  if (!config_dir.empty()) {
    std::error_code ec;
    std::vector<std::string> in_dir;
    for (const auto& entry : std::filesystem::directory_iterator(config_dir, ec))
      if (entry.path().extension() == ".conf" && !entry.is_directory())
        in_dir.push_back(entry.path().string());
    if (ec) throw config_error(config_dir + ": cannot read the directory (" + ec.message() + ")");
    std::sort(in_dir.begin(), in_dir.end());
    paths.insert(paths.end(), in_dir.begin(), in_dir.end());
  }
  options o;
  for (const auto& path : paths) read_file(path, o);
  return apply_environment(std::move(o));
}

}  // namespace dbtrace
