// OSProfiler's report (drivers/base.py: _append_results, _parse_results,
// _build_tree) rebuilt from stored events, and a text tree of the same nodes.
#include "dbtrace/report.hpp"

#include "dbtrace/osprofiler_event.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <sstream>

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

std::string millis(std::int64_t micros) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fms", static_cast<double>(micros) / 1000.0);
  return buf;
}

void render(const trace_tree& t, std::size_t i, int depth, std::ostringstream& out) {
  const node& n = t.nodes[i];
  out << std::string(static_cast<std::size_t>(depth) * 2, ' ') << n.info["name"].get<std::string>()
      << "  +" << millis(*n.started - *t.started_at) << "  " << millis(*n.finished - *n.started);
  if (!n.statement.empty()) {
    std::string s = n.statement;
    for (auto& c : s)
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (s.size() > 120) s = s.substr(0, 117) + "...";
    out << "  " << s;
  }
  if (n.exception != "None") out << "  ! " << n.exception;
  out << '\n';
  if (depth >= max_depth) return;
  // The text tree orders siblings to the microsecond; the report keeps OSProfiler's milliseconds.
  auto children = n.children;
  std::stable_sort(children.begin(), children.end(), [&](std::size_t a, std::size_t b) {
    return *t.nodes[a].started < *t.nodes[b].started;
  });
  for (auto c : children) render(t, c, depth + 1, out);
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

std::string render_tree(const std::vector<stored_event>& events) {
  trace_tree t(events);
  std::ostringstream out;
  std::map<std::string, std::pair<int, std::int64_t>> stats;  // name -> count, µs
  for (const auto& n : t.nodes) {
    auto& s = stats[n.info["name"].get<std::string>()];
    ++s.first;
    s.second += *n.finished - *n.started;
  }
  out << "trace " << (events.empty() ? std::string() : events.front().base_id) << "  "
      << (t.started_at ? millis(*t.finished_at - *t.started_at) : millis(0));
  for (const auto& [name, s] : stats)
    out << "  " << name << ": " << s.first << " in " << millis(s.second);
  out << '\n';
  for (auto r : t.roots) render(t, r, 1, out);
  return out.str();
}

}  // namespace dbtrace
