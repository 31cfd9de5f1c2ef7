// SPDX-License-Identifier: Apache-2.0
// Stored events linked into spans: what every rendering of a trace reads.
#include <algorithm>
#include <map>

#include "config/statement_text.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "dbtrace/report.hpp"
#include "read/event_fields.hpp"

namespace dbtrace {
namespace {

using ojson = nlohmann::ordered_json;
using detail::is_stop_event;
using detail::member;

std::string text_of(const ojson* v) {
  if (!v || v->is_null()) return {};
  return v->is_string() ? v->get<std::string>()
                        : v->dump(-1, ' ', false, ojson::error_handler_t::replace);
}

std::optional<std::int64_t> integer_of(const ojson* v) {
  if (v && v->is_number_integer()) return v->get<std::int64_t>();
  return std::nullopt;
}

// What a start event says: the statement and target of a SQL span, or the
// application's info of a generic one.
void read_start(trace_span& s, const ojson& info) {
  const ojson* db = member(info, "db");
  if (db && db->is_object() && member(*db, "statement")) {
    s.is_sql = true;
    s.statement = text_of(member(*db, "statement"));
    if (const ojson* p = member(*db, "params"); p && !p->is_null()) s.params = *p;
    s.system = text_of(member(*db, "db.system.name"));
    s.name_space = text_of(member(*db, "db.namespace"));
    s.server_address = text_of(member(*db, "server.address"));
    s.server_port = integer_of(member(*db, "server.port"));
    s.operation = text_of(member(*db, "db.operation.name"));
    s.batch_size = integer_of(member(*db, "db.operation.batch.size"));
    // OSProfiler's events carry neither; the same rules as the exporter's give them.
    if (s.operation.empty()) s.operation = detail::operation_name(s.statement);
    s.collection = detail::collection_name(s.statement);
    s.summary = detail::query_summary(s.operation, s.collection);
    return;
  }
  if (!info.is_object()) return;
  s.info = ojson::object();
  for (const auto& [key, value] : info.items())
    if (key != "host") s.info[key] = value;
}

// What a stop event says: rows, or the error.
void read_stop(trace_span& s, const ojson& info) {
  if (const ojson* etype = member(info, "etype")) {
    s.etype = text_of(etype);
    s.message = text_of(member(info, "message"));
  }
  if (const ojson* db = member(info, "db"); db && db->is_object()) {
    s.rows = integer_of(member(*db, "db.response.returned_rows"));
    s.sqlstate = text_of(member(*db, "db.response.status_code"));
    if (s.etype.empty() && member(*db, "error.type")) s.etype = text_of(member(*db, "error.type"));
  }
}

constexpr std::size_t max_depth = 1000;

}  // namespace

stored_trace assemble_trace(const std::vector<stored_event>& events) {
  stored_trace t;
  std::vector<trace_span> spans;  // in order of first event
  std::map<std::string, std::size_t> by_id;
  bool any = false;
  for (const auto& e : events) {
    const auto ts = parse_timestamp(e.timestamp);
    if (!ts) continue;
    if (t.base_id.empty()) t.base_id = e.base_id;
    auto [it, added] = by_id.emplace(e.trace_id, spans.size());
    if (added) {
      trace_span s;
      s.id = e.trace_id;
      s.parent_id = e.parent_id;
      s.name = e.name.substr(0, e.name.find('-'));
      s.project = e.project;
      s.service = e.service;
      s.host = e.host;
      s.raw = ojson::object();
      spans.push_back(std::move(s));
    }
    trace_span& s = spans[it->second];
    s.raw[e.name] = e.raw;
    const ojson* info = member(e.raw, "info");
    static const ojson no_info = ojson::object();
    if (is_stop_event(e.name)) {
      s.has_stop = true;
      s.end_us = *ts;
      read_stop(s, info ? *info : no_info);
    } else {
      s.has_start = true;
      s.start_us = *ts;
      read_start(s, info ? *info : no_info);
      if (!any || t.last_started_us < *ts) t.last_started_us = *ts;
    }
    if (!any || *ts < t.started_us) t.started_us = *ts;
    if (!any || *ts > t.finished_us) t.finished_us = *ts;
    any = true;
  }
  for (auto& s : spans) {
    if (!s.has_start) s.start_us = s.end_us;
    if (!s.has_stop) s.end_us = s.start_us;
    t.sql_count += s.is_sql;
    t.error_count += s.failed();
  }

  // Link children to parents, then lay the spans out depth first.
  std::vector<std::vector<std::size_t>> children(spans.size());
  std::vector<std::size_t> roots;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const auto parent = by_id.find(spans[i].parent_id);
    if (parent != by_id.end() && parent->second != i)
      children[parent->second].push_back(i);
    else
      roots.push_back(i);
  }
  auto by_start = [&](std::size_t a, std::size_t b) {
    return spans[a].start_us < spans[b].start_us;
  };
  for (auto& c : children) std::stable_sort(c.begin(), c.end(), by_start);
  std::stable_sort(roots.begin(), roots.end(), by_start);

  std::vector<bool> placed(spans.size(), false);
  auto place_tree = [&](std::size_t root) {
    // (old index, new parent index, depth)
    std::vector<std::tuple<std::size_t, std::size_t, std::size_t>> stack{
        {root, trace_span::npos, 0}};
    while (!stack.empty()) {
      auto [old, parent, depth] = stack.back();
      stack.pop_back();
      if (placed[old]) continue;
      placed[old] = true;
      const std::size_t index = t.spans.size();
      t.spans.push_back(std::move(spans[old]));
      trace_span& s = t.spans.back();
      s.depth = depth;
      s.parent = parent;
      if (parent == trace_span::npos)
        t.roots.push_back(index);
      else
        t.spans[parent].children.push_back(index);
      if (depth + 1 >= max_depth) continue;  // deeper spans become roots below
      for (auto c = children[old].rbegin(); c != children[old].rend(); ++c)
        stack.emplace_back(*c, index, depth + 1);
    }
  };
  for (auto r : roots) place_tree(r);
  // Spans in a parent cycle, or cut off by the depth limit, start trees of their own.
  for (std::size_t i = 0; i < spans.size(); ++i)
    if (!placed[i]) place_tree(i);
  return t;
}

void trace_overview::add(const stored_event& e) {
  const auto ts = parse_timestamp(e.timestamp);
  if (!ts) return;
  if (base_id.empty()) {
    base_id = e.base_id;
    started_us = finished_us = *ts;
  }
  started_us = std::min(started_us, *ts);
  finished_us = std::max(finished_us, *ts);
  if (project.empty() && e.project) project = *e.project;
  if (service.empty() && e.service) service = *e.service;
  const ojson* info = member(e.raw, "info");
  if (is_stop_event(e.name)) {
    ++stops_;
    if (info && member(*info, "etype")) ++errors;
  } else {
    ++starts_;
    const ojson* db = info ? member(*info, "db") : nullptr;
    if (db && member(*db, "statement")) ++sql;
  }
  // A span is two events; one of a pair may be missing (a hung request).
  spans = std::max(starts_, stops_);
}

}  // namespace dbtrace
