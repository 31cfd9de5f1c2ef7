// SPDX-License-Identifier: Apache-2.0
// OSProfiler's report (drivers/base.py: _append_results, _parse_results,
// _build_tree) rebuilt from stored events, and a text tree of the same nodes.
#include "dbtrace/report.hpp"

#include "dbtrace/osprofiler_event.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>

namespace dbtrace {
namespace {

// Python's int(microseconds / 1000.0): truncation toward zero.
std::int64_t msec(std::int64_t micros) {
  return micros / 1000;
}

struct node {
  nlohmann::ordered_json info;  // OSProfiler's node info, times filled in later
  std::string trace_id, parent_id;
  std::optional<std::int64_t> started, finished;  // µs since the epoch
  std::string exception = "None";
  std::string statement;
  std::vector<std::size_t> children;
};

// The nodes of one trace, linked and ordered as OSProfiler's _build_tree does.
struct trace_tree {
  std::vector<node> nodes;
  std::vector<std::size_t> roots;
  std::optional<std::int64_t> started_at, finished_at, last_started_at;

  explicit trace_tree(const std::vector<stored_event>& events) {
    std::map<std::string, std::size_t> by_id;
    for (const auto& e : events) {
      const auto ts = parse_timestamp(e.timestamp);
      if (!ts) continue;  // OSProfiler would crash on it; skipping keeps the rest readable
      auto it = by_id.find(e.trace_id);
      if (it == by_id.end()) {
        node n;
        n.info["name"] = e.name.substr(0, e.name.find('-'));
        auto or_null = [](const std::optional<std::string>& v) {
          return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
        };
        n.info["project"] = or_null(e.project);
        n.info["service"] = or_null(e.service);
        n.info["host"] = or_null(e.host);
        n.trace_id = e.trace_id;
        n.parent_id = e.parent_id;
        it = by_id.emplace(e.trace_id, nodes.size()).first;
        nodes.push_back(std::move(n));
      }
      node& n = nodes[it->second];
      n.info["meta.raw_payload." + e.name] = e.raw;
      const auto* info = e.raw.is_object() && e.raw.contains("info") && e.raw["info"].is_object()
                             ? &e.raw["info"]
                             : nullptr;
      const bool is_stop = e.name.size() >= 4 && e.name.compare(e.name.size() - 4, 4, "stop") == 0;
      if (is_stop) {
        n.finished = ts;
        n.exception = "None";
        if (info && info->contains("etype"))
          n.exception = (*info)["etype"].is_string() ? (*info)["etype"].get<std::string>()
                                                     : (*info)["etype"].dump();
        n.info["finished"] = 0;  // keeps OSProfiler's key order; the value is set below
        n.info["exception"] = n.exception;
      } else {
        n.started = ts;
        n.info["started"] = 0;
        if (!last_started_at || *last_started_at < *ts) last_started_at = ts;
        if (info && info->contains("db") && (*info)["db"].is_object() &&
            (*info)["db"].contains("statement") && (*info)["db"]["statement"].is_string())
          n.statement = (*info)["db"]["statement"].get<std::string>();
      }
      if (!started_at || *started_at > *ts) started_at = ts;
      if (!finished_at || *finished_at < *ts) finished_at = ts;
    }
    for (auto& n : nodes) {
      if (!n.started) n.started = n.finished;
      if (!n.finished) n.finished = n.started;
    }
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      const auto parent = by_id.find(nodes[i].parent_id);
      if (parent != by_id.end() && parent->second != i)
        nodes[parent->second].children.push_back(i);
      else
        roots.push_back(i);
    }
    // OSProfiler sorts by whole-millisecond start; stable, so ties keep arrival order.
    auto by_start = [&](std::size_t a, std::size_t b) {
      return msec(*nodes[a].started - *started_at) < msec(*nodes[b].started - *started_at);
    };
    for (auto& n : nodes) std::stable_sort(n.children.begin(), n.children.end(), by_start);
    std::stable_sort(roots.begin(), roots.end(), by_start);
  }
};

// Children deeper than this are cut: a cyclic or absurd parent chain must not
// exhaust the stack.
constexpr int max_depth = 1000;

nlohmann::ordered_json node_json(const trace_tree& t, std::size_t i, int depth) {
  nlohmann::ordered_json j;
  j["info"] = t.nodes[i].info;
  j["trace_id"] = t.nodes[i].trace_id;
  j["parent_id"] = t.nodes[i].parent_id;
  j["children"] = nlohmann::ordered_json::array();
  if (depth < max_depth)
    for (auto c : t.nodes[i].children) j["children"].push_back(node_json(t, c, depth + 1));
  return j;
}

}  // namespace

nlohmann::ordered_json build_report(const std::vector<stored_event>& events) {
  trace_tree t(events);
  nlohmann::ordered_json stats = nlohmann::ordered_json::object();
  for (auto& n : t.nodes) {
    const std::int64_t op_started = msec(*n.started - *t.started_at);
    const std::int64_t op_finished = msec(*n.finished - *t.started_at);
    n.info["started"] = op_started;
    n.info["finished"] = op_finished;
    const std::string type = n.info["name"].get<std::string>();
    if (!stats.contains(type)) {
      stats[type] = {{"count", 1}, {"duration", op_finished - op_started}};
    } else {
      stats[type]["count"] = stats[type]["count"].get<std::int64_t>() + 1;
      stats[type]["duration"] =
          stats[type]["duration"].get<std::int64_t>() + (op_finished - op_started);
    }
  }
  nlohmann::ordered_json report;
  report["info"] = {{"name", "total"}, {"started", 0}};
  if (t.started_at) {
    report["info"]["finished"] = msec(*t.finished_at - *t.started_at);
    report["info"]["last_trace_started"] =
        t.last_started_at ? nlohmann::ordered_json(msec(*t.last_started_at - *t.started_at))
                          : nullptr;
  } else {
    report["info"]["finished"] = nullptr;
    report["info"]["last_trace_started"] = nullptr;
  }
  report["children"] = nlohmann::ordered_json::array();
  for (auto r : t.roots) report["children"].push_back(node_json(t, r, 0));
  report["stats"] = stats;
  return report;
}

}  // namespace dbtrace

namespace dbtrace {

std::vector<stored_event> events_from_report(const nlohmann::ordered_json& report) {
  using ojson = nlohmann::ordered_json;
  std::vector<stored_event> out;
  if (!report.is_object() || !report.contains("children") || !report["children"].is_array())
    throw std::invalid_argument("not a trace report: no \"children\" list");
  auto text = [](const ojson& j, const char* key) -> std::optional<std::string> {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  std::string base_id;  // the parent of the top spans
  std::vector<const ojson*> pending{&report["children"]};
  while (!pending.empty()) {
    const auto* children = pending.back();
    pending.pop_back();
    for (const auto& child : *children) {
      if (!child.is_object()) continue;
      if (base_id.empty()) base_id = text(child, "parent_id").value_or("");
      const auto info = child.find("info");
      if (info == child.end() || !info->is_object()) continue;
      for (const auto& [key, payload] : info->items()) {
        if (key.rfind("meta.raw_payload.", 0) != 0 || !payload.is_object()) continue;
        if (payload.contains("timestamp")) {  // the whole event (Redis, JSON lines, ...)
          out.push_back(stored_event_from_json(payload));
          continue;
        }
        // A SQL store's report keeps only {"info": ...}: the rest comes from
        // the node, and the time from its whole milliseconds.
        stored_event e;
        e.name = key.substr(17);
        const bool stop = e.name.size() > 5 && e.name.compare(e.name.size() - 5, 5, "-stop") == 0;
        const auto ms = info->find(stop ? "finished" : "started");
        if (ms == info->end() || !ms->is_number_integer()) continue;
        e.base_id = base_id;
        e.trace_id = text(child, "trace_id").value_or("");
        e.parent_id = text(child, "parent_id").value_or("");
        format_timestamp(ms->get<std::int64_t>() * 1000000, e.timestamp);
        e.project = text(*info, "project");
        e.service = text(*info, "service");
        e.host = text(*info, "host");
        e.raw = payload;
        out.push_back(std::move(e));
      }
    }
    for (const auto& child : *children) {
      if (child.is_object() && child.contains("children") && child["children"].is_array())
        pending.push_back(&child["children"]);
    }
  }
  return out;
}

}  // namespace dbtrace
