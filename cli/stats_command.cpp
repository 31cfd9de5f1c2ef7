// SPDX-License-Identifier: Apache-2.0
#include "stats_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "bench_command.hpp"
#include "common.hpp"
#include "dbtrace/stats.hpp"

namespace dbtrace::cli {
namespace {

const std::map<std::string, stats_grouping> groupings = {{"text", stats_grouping::text},
                                                         {"summary", stats_grouping::summary},
                                                         {"operation", stats_grouping::operation},
                                                         {"collection", stats_grouping::collection},
                                                         {"name", stats_grouping::name}};

// The column a group's key goes under.
std::string key_column(const std::string& by) {
  return by == "text" ? "statement" : by == "name" ? "span" : by;
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

// One line for a table: blanks for line breaks, long text cut.
std::string one_line(const std::string& text, std::size_t max) {
  std::string s;
  for (char c : text) s += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

}  // namespace

int show_stats(reader& store, const stats_options& o) {
  stats_query q;
  q.by = groupings.at(o.by);
  if (!o.since.empty()) q.since_us = parse_time("--since", o.since);
  if (!o.until.empty()) q.until_us = parse_time("--until", o.until);
  q.project = o.project;
  if (o.project.empty()) q.other_than_project = bench_project;
  q.service = o.service;
  q.base_id = o.trace;

  // A progress line for a person waiting on a long scan; nothing when piped.
  const bool progress_shown = isatty(STDERR_FILENO);
  bool progressed = false;
  auto progress = [&](std::uint64_t events) {
    if (!progress_shown) return;
    std::cerr << "\rscanning: " << events << " events read" << std::flush;
    progressed = true;
  };
  auto groups = collect_stats(store, q, progress);
  if (progressed) std::cerr << "\r\033[K" << std::flush;

  auto key = [&](const statement_stats& s) -> std::int64_t {
    if (o.sort == "p99") return s.p99_us;
    if (o.sort == "count") return s.count;
    if (o.sort == "errors") return s.errors;
    return s.total_us;
  };
  std::sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
    return key(a) != key(b) ? key(a) > key(b) : a.key < b.key;
  });
  if (o.top && groups.size() > o.top) groups.resize(o.top);

  const std::string key_name = key_column(o.by);
  if (o.as_json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& s : groups)
      out.push_back({{key_name, s.key},
                     {"count", s.count},
                     {"errors", s.errors},
                     {"rows", s.rows},
                     {"total_us", s.total_us},
                     {"mean_us", s.mean_us()},
                     {"p50_us", s.p50_us},
                     {"p95_us", s.p95_us},
                     {"p99_us", s.p99_us},
                     {"max_us", s.max_us}});
    return write_output(out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                        "");
  }
  if (o.as_csv) {
    std::string text =
        key_name + ",count,errors,rows,total_us,mean_us,p50_us,p95_us,p99_us,max_us\n";
    for (const auto& s : groups) {
      char mean[32];
      std::snprintf(mean, sizeof mean, "%.3f", s.mean_us());
      text += csv_field(s.key) + "," + std::to_string(s.count) + "," + std::to_string(s.errors) +
              "," + std::to_string(s.rows) + "," + std::to_string(s.total_us) + "," + mean + "," +
              std::to_string(s.p50_us) + "," + std::to_string(s.p95_us) + "," +
              std::to_string(s.p99_us) + "," + std::to_string(s.max_us) + "\n";
    }
    return write_output(text, "");
  }
  const bool person = is_terminal("");
  if (groups.empty()) {
    std::cerr << "dbtrace: no finished " << (o.by == "name" ? "spans" : "SQL statements")
              << " match\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : groups)
    rows.push_back({std::to_string(s.count), std::to_string(s.errors), std::to_string(s.rows),
                    millis(s.total_us), millis(static_cast<std::int64_t>(s.mean_us())),
                    millis(s.p50_us), millis(s.p95_us), millis(s.p99_us), millis(s.max_us),
                    person ? one_line(s.key, 100) : one_line(s.key, SIZE_MAX - 4)});
  std::string key_header = key_name;
  std::transform(key_header.begin(), key_header.end(), key_header.begin(), ::toupper);
  return write_output(table({"COUNT", "ERRORS", "ROWS", "TOTAL MS", "MEAN MS", "P50 MS", "P95 MS",
                             "P99 MS", "MAX MS", key_header},
                            rows, person),
                      "");
}

}  // namespace dbtrace::cli
