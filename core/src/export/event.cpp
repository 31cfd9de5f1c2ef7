// SPDX-License-Identifier: Apache-2.0
// Event text shared by the pipeline and the drivers: OSProfiler's event JSON,
// its timestamp format and Python's json.dumps spacing.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "dbtrace/osprofiler_event.hpp"
#include "trace/ids.hpp"

namespace dbtrace {

stored_event stored_event_from_json(nlohmann::ordered_json j) {
  auto field = [&](const char* key) -> std::string {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::optional<std::string> host;
  if (const auto info = j.find("info"); info != j.end() && info->is_object()) {
    if (const auto h = info->find("host"); h != info->end() && h->is_string())
      host = h->get<std::string>();
  }
  stored_event e{field("name"),      field("base_id"),   field("trace_id"),
                 field("parent_id"), field("timestamp"), field("project"),
                 field("service"),   std::move(host),    {}};
  e.raw = std::move(j);
  return e;
}

// Microseconds since the epoch of `%Y-%m-%dT%H:%M:%S.%f`; nullopt if malformed.
std::optional<std::int64_t> parse_timestamp(const std::string& ts) {
  int year, month, day, hour, minute, second;
  char frac[8] = {};
  if (std::sscanf(ts.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%6[0-9]", &year, &month, &day, &hour,
                  &minute, &second, frac) < 6)
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::int64_t micros = 0;
  int digits = 0;
  for (const char* p = frac; *p; ++p, ++digits) micros = micros * 10 + (*p - '0');
  for (; digits < 6; ++digits) micros *= 10;
  return static_cast<std::int64_t>(timegm(&tm)) * 1000000 + micros;
}

void timestamp_cache::refill(std::int64_t new_second) noexcept {
  const auto t = static_cast<std::time_t>(new_second);
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(prefix, sizeof prefix, "%Y-%m-%dT%H:%M:%S", &tm);
  prefix[19] = '.';
  second = new_second;
}

void format_timestamp(std::int64_t ns, std::string& out) {
  // The readers format timestamps in bursts: one gmtime per second of them.
  thread_local timestamp_cache last;
  out.resize(26);
  write_timestamp(out.data(), ns, last);
}

void format_timestamp_us(std::int64_t us, std::string& out) {
  // Past what ns since the epoch hold (after 2262): the microseconds' own second.
  constexpr std::int64_t us_per_second = 1000000;
  std::int64_t second = us / us_per_second, in_second = us % us_per_second;
  if (in_second < 0) {
    in_second += us_per_second;
    --second;
  }
  thread_local timestamp_cache last;
  if (second != last.second) last.refill(second);
  out.assign(last.prefix, sizeof last.prefix);
  char micros[6];
  const auto u = static_cast<std::uint32_t>(in_second);
  detail::digits::four(detail::digits::two(micros, u / 10000), u % 10000);
  out.append(micros, sizeof micros);
}

void append_python_json(std::string& out, const nlohmann::json& j) {
  if (j.is_object()) {
    out += '{';
    bool first = true;
    for (const auto& [key, value] : j.items()) {
      if (!first) out += ", ";
      first = false;
      append_json_string(out, key);
      out += ": ";
      append_python_json(out, value);
    }
    out += '}';
  } else if (j.is_array()) {
    out += '[';
    bool first = true;
    for (const auto& value : j) {
      if (!first) out += ", ";
      first = false;
      append_python_json(out, value);
    }
    out += ']';
  } else {
    out += j.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  }
}

void append_json_string(std::string& out, std::string_view text) {
  // Most texts (names, ids, statements) are printable ASCII without quotes or
  // backslashes: they are copied as they are; anything else goes through
  // nlohmann's escaping (non-ASCII as \uXXXX, invalid UTF-8 replaced).
  bool plain = true;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7F || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out += '"';
    out.append(text.data(), text.size());
    out += '"';
    return;
  }
  out += nlohmann::json(std::string(text))
             .dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

namespace {

// True when `text`, read as JSON, opens more than `limit` arrays and objects
// inside each other (brackets inside strings do not count). One pass, no
// recursion, whatever the text's length.
bool nests_deeper_than(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

nlohmann::ordered_json discarded() {
  return nlohmann::ordered_json(nlohmann::ordered_json::value_t::discarded);
}

}  // namespace

nlohmann::ordered_json parse_report_text(std::string_view text) {
  if (nests_deeper_than(text, max_stored_json_depth))
    throw std::invalid_argument("the report nests arrays and objects deeper than " +
                                std::to_string(max_stored_json_depth) + " levels");
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded()) throw std::invalid_argument("not a trace report: not JSON");
  return j;
}

nlohmann::ordered_json parse_event_text(std::string_view text) {
  if (nests_deeper_than(text, max_stored_json_depth)) return discarded();
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded()) j = nlohmann::ordered_json::parse(valid_utf8(text), nullptr, false);
  return j;
}

std::string valid_utf8(std::string_view text) {
  // nlohmann's replacing serializer is the UTF-8 validator; without
  // ensure_ascii its output is the text itself, quoted and escaped.
  const auto quoted = nlohmann::json(std::string(text))
                          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return nlohmann::json::parse(quoted).get<std::string>();
}

std::string uuid_text(const detail::id128& id) {
  return detail::to_string(id);
}

std::string data_table_ddl(const char* id_column) {
  std::string ddl = "CREATE TABLE IF NOT EXISTS data (\n  ";
  ddl += id_column;
  ddl += R"(,
  "timestamp" VARCHAR(26),
  base_id VARCHAR(255),
  parent_id VARCHAR(255),
  trace_id VARCHAR(255),
  project VARCHAR(255),
  host VARCHAR(255),
  service VARCHAR(255),
  name VARCHAR(255),
  data JSON
);
)";
  for (const char* column :
       {"base_id", "host", "name", "parent_id", "project", "service", "timestamp", "trace_id"}) {
    ddl += "CREATE INDEX IF NOT EXISTS ix_data_";
    ddl += column;
    ddl += " ON data (\"";
    ddl += column;
    ddl += "\");\n";
  }
  return ddl;
}

nlohmann::ordered_json decode_data_column(std::string_view text) {
  auto parse = [](std::string_view t) {
    return nests_deeper_than(t, max_stored_json_depth)
               ? discarded()
               : nlohmann::ordered_json::parse(t, nullptr, false);
  };
  auto j = parse(text);
  if (j.is_string()) j = parse(j.get<std::string>());
  return j.is_object() ? j : nlohmann::ordered_json::object();
}

}  // namespace dbtrace
