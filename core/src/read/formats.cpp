// SPDX-License-Identifier: Apache-2.0
// The renderings of an assembled trace that `dbtrace trace show` prints.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include "dbtrace/osprofiler_event.hpp"
#include "dbtrace/report.hpp"

namespace dbtrace {
namespace {

using ojson = nlohmann::ordered_json;

std::string millis(std::int64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fms", static_cast<double>(micros) / 1000.0);
  return buf;
}

// One line of text: control characters become blanks, long text is cut.
std::string one_line(const std::string& text, std::size_t max) {
  std::string s;
  s.reserve(std::min(text.size(), max + 3));
  bool blank = false;
  for (char c : text) {
    const bool is_blank = c == ' ' || (static_cast<unsigned char>(c) < 0x20);
    if (is_blank && blank) continue;
    blank = is_blank;
    s += is_blank ? ' ' : c;
  }
  if (s.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80)
      --cut;  // not mid-character
    s = s.substr(0, cut) + "...";
  }
  return s;
}

std::string value_text(const ojson& v) {
  return v.is_string() ? v.get<std::string>()
                       : v.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// A generic span's info as key=value words; nested objects as dotted keys.
void info_words(const ojson& info, const std::string& prefix, std::string& out) {
  for (const auto& [key, value] : info.items()) {
    if (value.is_object() && !value.empty()) {
      info_words(value, prefix + key + ".", out);
      continue;
    }
    out += "  " + prefix + key + "=" + one_line(value_text(value), 60);
  }
}

std::string error_text(const trace_span& s) {
  std::string e = s.etype;
  if (!s.message.empty()) e += ": " + one_line(s.message, 200);
  // PostgreSQL's codes are SQLSTATEs; SQLite's and others' are their own numbers.
  if (!s.sqlstate.empty())
    e += (s.sqlstate.size() == 5 ? " (SQLSTATE " : " (code ") + s.sqlstate + ")";
  return e;
}

struct palette {
  const char *name = "", *error = "", *dim = "", *off = "";
};

void render_span(const stored_trace& t, std::size_t i, const tree_options& o, const palette& p,
                 std::ostringstream& out) {
  const trace_span& s = t.spans[i];
  if (s.duration_us() < o.min_duration_us) return;
  out << std::string((s.depth + 1) * 2, ' ') << p.name << s.name << p.off << "  +"
      << millis(s.start_us - t.started_us) << "  " << millis(s.duration_us());
  if (s.is_sql) {
    out << "  " << one_line(s.statement, 120);
    std::string meta;
    if (s.rows) meta += "  " + std::to_string(*s.rows) + (*s.rows == 1 ? " row" : " rows");
    if (s.batch_size) meta += "  batch=" + std::to_string(*s.batch_size);
    if (!s.params.is_null()) meta += "  params=" + one_line(value_text(s.params), 80);
    if (!meta.empty()) out << p.dim << meta << p.off;
  } else if (s.info.is_object() && !s.info.empty()) {
    std::string words;
    info_words(s.info, "", words);
    out << p.dim << words << p.off;
  }
  if (!s.has_stop) out << "  (no stop event)";
  if (s.failed()) out << "  " << p.error << "! " << error_text(s) << p.off;
  out << '\n';
  for (auto c : s.children) render_span(t, c, o, p, out);
}

std::string dot_quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

// OTLP ids: the UUID's hex digits; a span id is the low 64 bits of its UUID,
// as the OTLP exporter sends them.
// OTLP's fixed64 nanoseconds from stored µs: past 2262 (or before 1970, from
// a mangled store) they do not fit, and are clamped rather than overflow.
std::string unix_nanos(std::int64_t us) {
  constexpr std::int64_t max_us = std::numeric_limits<std::int64_t>::max() / 1000;
  return std::to_string(std::clamp<std::int64_t>(us, 0, max_us) * 1000);
}

std::string uuid_hex(const std::string& uuid) {
  std::string h;
  for (char c : uuid)
    if (c != '-') h += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h.size() == 32 ? h : std::string(32, '0');
}

ojson otlp_attribute(const std::string& key, const ojson& v) {
  ojson value;
  if (v.is_string())
    value["stringValue"] = v;
  else if (v.is_boolean())
    value["boolValue"] = v;
  else if (v.is_number_integer())
    value["intValue"] = std::to_string(v.get<std::int64_t>());
  else if (v.is_number())
    value["doubleValue"] = v;
  else
    value["stringValue"] = v.dump(-1, ' ', false, ojson::error_handler_t::replace);
  return {{"key", key}, {"value", value}};
}

std::string dumped(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
std::string dumped(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// The span's name in Perfetto and Jaeger: a SQL span by what it does.
std::string display_name(const trace_span& s) {
  if (!s.is_sql) return s.name;
  if (!s.summary.empty()) return s.summary;
  return s.system.empty() ? s.name : s.system;
}

// The attributes a SQL span has under OTel's names.
ojson sql_attributes(const trace_span& s) {
  ojson a = ojson::object();
  a["db.query.text"] = s.statement;
  if (!s.system.empty()) a["db.system.name"] = s.system;
  if (!s.name_space.empty()) a["db.namespace"] = s.name_space;
  if (!s.server_address.empty()) a["server.address"] = s.server_address;
  if (s.server_port) a["server.port"] = *s.server_port;
  if (!s.operation.empty()) a["db.operation.name"] = s.operation;
  if (!s.collection.empty()) a["db.collection.name"] = s.collection;
  if (!s.summary.empty()) a["db.query.summary"] = s.summary;
  if (s.params.is_array())
    for (std::size_t i = 0; i < s.params.size(); ++i)
      a["db.query.parameter." + std::to_string(i)] = value_text(s.params[i]);
  if (s.batch_size) a["db.operation.batch.size"] = *s.batch_size;
  if (s.rows && !s.failed()) a["db.response.returned_rows"] = *s.rows;
  if (!s.sqlstate.empty()) a["db.response.status_code"] = s.sqlstate;
  return a;
}

}  // namespace

std::string render_tree(const stored_trace& t, const tree_options& o) {
  palette p;
  if (o.colour) p = {"\033[1m", "\033[31m", "\033[2m", "\033[0m"};
  std::ostringstream out;
  std::map<std::string, std::pair<int, std::int64_t>> stats;  // name -> count, µs
  for (const auto& s : t.spans) {
    auto& st = stats[s.name];
    ++st.first;
    st.second += s.duration_us();
  }
  out << "trace " << t.base_id << "  " << millis(t.duration_us());
  for (const auto& [name, s] : stats)
    out << "  " << name << ": " << s.first << " in " << millis(s.second);
  if (t.error_count)
    out << "  " << p.error << t.error_count << (t.error_count == 1 ? " error" : " errors") << p.off;
  out << '\n';
  for (auto r : t.roots) render_span(t, r, o, p, out);
  return out.str();
}

std::string render_dot(const stored_trace& t) {
  std::ostringstream out;
  out << "digraph trace {\n  node [shape=box, fontname=\"monospace\"];\n";
  out << "  total [label="
      << dot_quoted("total - " + std::to_string(t.duration_us() / 1000) + " ms") << "];\n";
  for (std::size_t i = 0; i < t.spans.size(); ++i) {
    const trace_span& s = t.spans[i];
    std::string label = (s.service ? *s.service + ":" : "") + s.name + " - " +
                        std::to_string(s.duration_us() / 1000) + " ms";
    std::string detail;
    if (s.is_sql) {
      detail = one_line(s.statement, 40);
    } else if (s.info.is_object()) {
      const ojson* request = s.info.contains("request") ? &s.info["request"] : nullptr;
      if (request && request->is_object())
        detail = one_line(value_text(request->value("method", ojson(""))) + " " +
                              value_text(request->value("path", ojson(""))),
                          40);
      else if (s.info.contains("function"))
        detail = one_line(
            value_text(s.info["function"].is_object() ? s.info["function"].value("name", ojson(""))
                                                      : s.info["function"]),
            40);
    }
    std::string quoted = dot_quoted(label + (detail.empty() ? "" : "\n" + detail));
    // DOT reads "\n" in a label as a line break: the one break above.
    if (const auto nl = quoted.find('\n'); nl != std::string::npos) quoted.replace(nl, 1, "\\n");
    out << "  s" << i << " [label=" << quoted;
    if (s.failed()) out << ", color=red, fontcolor=red";
    out << "];\n";
  }
  for (auto r : t.roots) out << "  total -> s" << r << ";\n";
  for (std::size_t i = 0; i < t.spans.size(); ++i)
    for (auto c : t.spans[i].children) out << "  s" << i << " -> s" << c << ";\n";
  out << "}\n";
  return out.str();
}

std::string render_chrome(const stored_trace& t) {
  nlohmann::json events = nlohmann::json::array();
  std::map<std::string, int> pids;  // service -> process
  for (const auto& s : t.spans) {
    const std::string service = s.service.value_or("unknown");
    if (pids.emplace(service, static_cast<int>(pids.size()) + 1).second)
      events.push_back({{"ph", "M"},
                        {"name", "process_name"},
                        {"pid", pids[service]},
                        {"tid", 1},
                        {"args", {{"name", service}}}});
  }
  // Slices on one thread must nest: a span that overlaps an open slice of its
  // process without fitting inside it becomes an async event.
  std::vector<std::size_t> order(t.spans.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const auto &x = t.spans[a], &y = t.spans[b];
    return x.start_us != y.start_us ? x.start_us < y.start_us : x.end_us > y.end_us;
  });
  std::map<int, std::vector<std::int64_t>> open;  // pid -> ends of the open slices
  for (auto i : order) {
    const trace_span& s = t.spans[i];
    const int pid = pids[s.service.value_or("unknown")];
    nlohmann::json args = nlohmann::json::object();
    args["span_id"] = s.id;
    if (s.project) args["project"] = *s.project;
    if (s.host) args["host"] = *s.host;
    if (s.is_sql) {
      const ojson attributes = sql_attributes(s);
      for (const auto& [k, v] : attributes.items()) args[k] = v;
    } else if (s.info.is_object()) {
      for (const auto& [k, v] : s.info.items()) args[k] = v;
    }
    if (s.failed()) {
      args["error.type"] = s.etype;
      args["error.message"] = s.message;
    }
    const double ts = static_cast<double>(s.start_us - t.started_us);
    const std::string name = s.is_sql ? display_name(s) : s.name;
    const char* cat = s.is_sql ? "db" : "span";
    auto& stack = open[pid];
    while (!stack.empty() && stack.back() <= s.start_us) stack.pop_back();
    if (stack.empty() || s.end_us <= stack.back()) {
      stack.push_back(s.end_us);
      events.push_back({{"ph", "X"},
                        {"name", name},
                        {"cat", cat},
                        {"pid", pid},
                        {"tid", 1},
                        {"ts", ts},
                        {"dur", static_cast<double>(s.duration_us())},
                        {"args", args}});
    } else {
      events.push_back({{"ph", "b"},
                        {"name", name},
                        {"cat", cat},
                        {"pid", pid},
                        {"tid", 1},
                        {"id2", {{"local", s.id}}},
                        {"ts", ts},
                        {"args", args}});
      events.push_back({{"ph", "e"},
                        {"name", name},
                        {"cat", cat},
                        {"pid", pid},
                        {"tid", 1},
                        {"id2", {{"local", s.id}}},
                        {"ts", static_cast<double>(s.end_us - t.started_us)}});
    }
  }
  nlohmann::json doc = {
      {"traceEvents", events}, {"displayTimeUnit", "ms"}, {"otherData", {{"base_id", t.base_id}}}};
  return dumped(doc) + "\n";
}

std::string render_otlp(const stored_trace& t) {
  // One resource per service, project and host, in order of appearance.
  std::vector<std::pair<std::string, ojson>> resources;
  auto resource_of = [&](const trace_span& s) -> ojson& {
    const std::string key =
        s.service.value_or("") + '\n' + s.project.value_or("") + '\n' + s.host.value_or("");
    for (auto& [k, spans] : resources)
      if (k == key) return spans;
    ojson rs;
    ojson attributes = ojson::array();
    attributes.push_back(otlp_attribute("service.name", s.service.value_or("unknown_service")));
    if (s.project && !s.project->empty())
      attributes.push_back(otlp_attribute("service.namespace", *s.project));
    if (s.host && !s.host->empty()) attributes.push_back(otlp_attribute("host.name", *s.host));
    rs["resource"]["attributes"] = attributes;
    rs["scopeSpans"] =
        ojson::array({{{"scope", {{"name", "dbtrace"}}}, {"spans", ojson::array()}}});
    resources.emplace_back(key, std::move(rs));
    return resources.back().second;
  };
  const std::string trace_id = uuid_hex(t.base_id);
  for (const auto& s : t.spans) {
    ojson span;
    span["traceId"] = trace_id;
    span["spanId"] = uuid_hex(s.id).substr(16);
    if (s.parent != trace_span::npos)
      span["parentSpanId"] = uuid_hex(t.spans[s.parent].id).substr(16);
    else if (s.parent_id != t.base_id)
      span["parentSpanId"] = uuid_hex(s.parent_id).substr(16);
    span["name"] = display_name(s);
    span["kind"] = s.is_sql ? 3 : 1;  // CLIENT, INTERNAL
    span["startTimeUnixNano"] = unix_nanos(s.start_us);
    span["endTimeUnixNano"] = unix_nanos(s.end_us);
    ojson attributes = ojson::array();
    if (s.is_sql) {
      const ojson named = sql_attributes(s);
      for (const auto& [k, v] : named.items()) attributes.push_back(otlp_attribute(k, v));
    } else if (s.info.is_object()) {
      for (const auto& [k, v] : s.info.items())
        attributes.push_back(otlp_attribute("osprofiler." + k, v));
    }
    if (s.failed()) attributes.push_back(otlp_attribute("error.type", s.etype));
    span["attributes"] = attributes;
    span["status"] = s.failed() ? ojson{{"code", 2}, {"message", s.message}} : ojson{{"code", 0}};
    resource_of(s)["scopeSpans"][0]["spans"].push_back(std::move(span));
  }
  ojson doc;
  doc["resourceSpans"] = ojson::array();
  for (auto& [key, rs] : resources) doc["resourceSpans"].push_back(std::move(rs));
  return dumped(doc) + "\n";
}

nlohmann::json viewer_data(const stored_trace& t) {
  nlohmann::json spans = nlohmann::json::array();
  for (const auto& s : t.spans) {
    nlohmann::json j;
    j["id"] = s.id;
    j["parent"] = s.parent == trace_span::npos ? -1 : static_cast<std::int64_t>(s.parent);
    j["depth"] = s.depth;
    j["name"] = s.name;
    j["start"] = s.start_us - t.started_us;
    j["end"] = s.end_us - t.started_us;
    if (s.service) j["service"] = *s.service;
    if (s.project) j["project"] = *s.project;
    if (s.host) j["host"] = *s.host;
    if (!s.has_stop) j["unfinished"] = true;
    if (s.is_sql) {
      j["statement"] = s.statement;
      if (!s.params.is_null()) j["params"] = s.params;
      if (s.rows) j["rows"] = *s.rows;
      if (s.batch_size) j["batch"] = *s.batch_size;
      if (!s.system.empty()) j["system"] = s.system;
      if (!s.name_space.empty()) j["namespace"] = s.name_space;
      if (!s.server_address.empty())
        j["server"] =
            s.server_address + (s.server_port ? ":" + std::to_string(*s.server_port) : "");
      if (!s.summary.empty()) j["summary"] = s.summary;
    } else if (s.info.is_object() && !s.info.empty()) {
      j["info"] = s.info;
    }
    if (s.failed()) {
      j["etype"] = s.etype;
      j["message"] = s.message;
      if (!s.sqlstate.empty()) j["sqlstate"] = s.sqlstate;
    }
    // The raw events without what the span already says (the page puts it
    // back): a 50,000-span page is half the size.
    j["parent_id"] = s.parent_id;
    nlohmann::json raw = nlohmann::json::object();
    for (const auto& [name, event] : s.raw.items()) {
      nlohmann::json e = event;
      if (e.is_object()) {
        const auto drop = [&](const char* key, const std::optional<std::string>& same) {
          const auto it = e.find(key);
          if (it != e.end() && same && *it == *same) e.erase(it);
        };
        drop("name", name);
        drop("base_id", t.base_id);
        drop("trace_id", s.id);
        drop("parent_id", s.parent_id);
        drop("project", s.project);
        drop("service", s.service);
      }
      raw[name] = std::move(e);
    }
    j["raw"] = std::move(raw);
    spans.push_back(std::move(j));
  }
  std::string started;
  format_timestamp_us(t.started_us, started);
  return {{"base_id", t.base_id},
          {"started", started},
          {"duration", t.duration_us()},
          {"last_started", t.last_started_us - t.started_us},
          {"spans", std::move(spans)}};
}

}  // namespace dbtrace
