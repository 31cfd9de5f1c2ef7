// SPDX-License-Identifier: Apache-2.0
// Per-statement statistics from stored events: each span's start and stop
// paired by its id (in either order: Redis lists are newest first), filtered,
// grouped and summed up.
#include "dbtrace/stats.hpp"

#include <algorithm>
#include <chrono>

#include "config/statement_text.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/osprofiler_event.hpp"
#include "read/event_fields.hpp"

namespace dbtrace {
namespace {

using ojson = nlohmann::ordered_json;
using detail::is_stop_event;
using detail::member;

// The smallest duration that at least p % of `sorted` do not exceed.
std::int64_t nearest_rank(const std::vector<std::int64_t>& sorted, int p) {
  const auto n = static_cast<std::int64_t>(sorted.size());
  const auto rank = (p * n + 99) / 100;  // ceil(p n / 100), 1-based
  return sorted[static_cast<std::size_t>(std::max<std::int64_t>(rank, 1) - 1)];
}

// Half of a span seen so far.
struct half {
  std::int64_t ts = 0;
  std::string key;      // from the start
  bool keep = false;    // the start passed the filters
  bool failed = false;  // from the stop
  std::int64_t rows = 0;
};

class event_pairing {
 public:
  event_pairing(const stats_query& q, stats_table& table) : q_(q), table_(table) {}

  void add(const stored_event& e) {
    if (!q_.base_id.empty() && e.base_id != q_.base_id) return;
    if (!q_.project.empty() && e.project.value_or("") != q_.project) return;
    if (!q_.other_than_project.empty() && e.project.value_or("") == q_.other_than_project) return;
    if (!q_.service.empty() && e.service.value_or("") != q_.service) return;
    const auto ts = parse_timestamp(e.timestamp);
    if (!ts) return;
    const ojson* info = member(e.raw, "info");
    const bool is_stop = is_stop_event(e.name);
    half h;
    h.ts = *ts;
    if (is_stop) {
      h.failed = info && member(*info, "etype");
      const ojson* db = info ? member(*info, "db") : nullptr;
      const ojson* rows = db ? member(*db, "db.response.returned_rows") : nullptr;
      if (rows && rows->is_number_integer()) h.rows = rows->get<std::int64_t>();
    } else {
      h.keep = keyed(e, info, h.key) && (!q_.since_us || *ts >= *q_.since_us) &&
               (!q_.until_us || *ts < *q_.until_us);
    }
    auto& other = is_stop ? starts_ : stops_;
    const auto match = other.find(e.trace_id);
    if (match == other.end()) {
      (is_stop ? stops_ : starts_)[e.trace_id] = std::move(h);
      return;
    }
    const half& start = is_stop ? match->second : h;
    const half& stop = is_stop ? h : match->second;
    if (start.keep) table_.add(start.key, stop.ts - start.ts, stop.failed, stop.rows);
    other.erase(match);
  }

 private:
  // The group a start event belongs to; false for a span the grouping leaves out.
  bool keyed(const stored_event& e, const ojson* info, std::string& key) const {
    if (q_.by == stats_grouping::name) {
      key = e.name.substr(0, e.name.rfind('-'));  // "rpc-start" -> "rpc"
      return true;
    }
    const ojson* db = info ? member(*info, "db") : nullptr;
    const ojson* statement = db ? member(*db, "statement") : nullptr;
    if (!statement || !statement->is_string()) return false;
    const auto& text = statement->get_ref<const std::string&>();
    if (q_.by == stats_grouping::text) {
      key = text;
      return true;
    }
    const ojson* op = member(*db, "db.operation.name");
    const std::string operation =
        op && op->is_string() ? op->get<std::string>() : detail::operation_name(text);
    if (q_.by == stats_grouping::operation) {
      key = operation;
      return true;
    }
    const std::string collection = detail::collection_name(text);
    key = q_.by == stats_grouping::collection ? collection
                                              : detail::query_summary(operation, collection);
    return true;
  }

  const stats_query& q_;
  stats_table& table_;
  std::unordered_map<std::string, half> starts_, stops_;  // by span id, waiting for the other half
};

}  // namespace

void stats_table::add(const std::string& key, std::int64_t duration_us, bool failed,
                      std::int64_t rows) {
  auto& g = groups_[key];
  g.durations.push_back(duration_us);
  g.errors += failed;
  g.rows += rows;
}

statement_stats summarize(std::string key, const std::vector<std::int64_t>& sorted,
                          std::int64_t errors, std::int64_t rows) {
  statement_stats s;
  s.key = std::move(key);
  s.count = static_cast<std::int64_t>(sorted.size());
  s.errors = errors;
  s.rows = rows;
  for (auto d : sorted) s.total_us += d;
  s.max_us = sorted.back();
  s.p50_us = nearest_rank(sorted, 50);
  s.p95_us = nearest_rank(sorted, 95);
  s.p99_us = nearest_rank(sorted, 99);
  return s;
}

std::vector<statement_stats> stats_table::result() const {
  std::vector<statement_stats> out;
  out.reserve(groups_.size());
  for (const auto& [key, g] : groups_) {
    auto sorted = g.durations;
    std::sort(sorted.begin(), sorted.end());
    out.push_back(summarize(key, sorted, g.errors, g.rows));
  }
  return out;
}

std::vector<statement_stats> collect_stats(reader& store, const stats_query& q,
                                           const scan_progress& progress) {
  if (auto computed = store.stats(q)) return std::move(*computed);
  stats_table table;
  event_pairing pairing(q, table);
  std::uint64_t events = 0;
  auto last = std::chrono::steady_clock::now();
  auto each = [&](const stored_event& e) {
    pairing.add(e);
    if (progress && (++events & 1023) == 0) {
      const auto now = std::chrono::steady_clock::now();
      if (now - last > std::chrono::milliseconds(200)) {
        last = now;
        progress(events);
      }
    }
    return true;
  };
  if (!q.base_id.empty()) {
    for (const auto& e : store.read_trace(q.base_id)) each(e);
  } else {
    store.scan(each);
  }
  return table.result();
}

}  // namespace dbtrace
