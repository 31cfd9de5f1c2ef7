// SPDX-License-Identifier: Apache-2.0
// Per-statement statistics across the traces of a store (`dbtrace stats`).
// Thread safety: none needed; a stats_table is filled by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace dbtrace {

class reader;
struct stored_event;

// Per-trace figures for `dbtrace trace list`: gathered event by event, or
// computed by the store itself (reader::overviews).
struct trace_overview {
  std::string base_id;
  std::int64_t started_us = 0, finished_us = 0;  // first and last event, µs since the epoch
  std::size_t spans = 0, sql = 0, errors = 0;
  std::string project, service;

  void add(const stored_event& e);
  std::int64_t duration_us() const { return finished_us - started_us; }

 private:
  std::size_t starts_ = 0, stops_ = 0;
};

// What spans are grouped by. All but `name` count SQL spans only.
enum class stats_grouping { text, summary, operation, collection, name };

struct stats_query {
  stats_grouping by = stats_grouping::text;
  std::optional<std::int64_t> since_us, until_us;  // on the span's start, µs since the epoch
  std::string project, service;                    // empty: any
  std::string other_than_project;                  // empty: none left out
  std::string base_id;                             // empty: every trace
};

// One group. Durations in µs, as the stores' timestamps give them (the
// difference of the stop and start timestamps, each to the µs).
// Percentiles by nearest rank: the smallest duration that at least p % of
// the group's durations do not exceed.
struct statement_stats {
  std::string key;  // the statement text, summary, operation, collection or span name
  std::int64_t count = 0, errors = 0, rows = 0;
  std::int64_t total_us = 0, max_us = 0, p50_us = 0, p95_us = 0, p99_us = 0;
  double mean_us() const {
    return count ? static_cast<double>(total_us) / static_cast<double>(count) : 0;
  }
};

// The figures of one group from its durations sorted ascending (not empty).
statement_stats summarize(std::string key, const std::vector<std::int64_t>& sorted_durations,
                          std::int64_t errors, std::int64_t rows);

// Finished spans, added one by one, summed up per group.
class stats_table {
 public:
  void add(const std::string& key, std::int64_t duration_us, bool failed, std::int64_t rows);
  std::vector<statement_stats> result() const;

 private:
  struct group {
    std::vector<std::int64_t> durations;
    std::int64_t errors = 0, rows = 0;
  };
  std::unordered_map<std::string, group> groups_;
};

// Called now and then during a long scan with the events read so far.
using scan_progress = std::function<void(std::uint64_t events)>;

// The statistics of a store: computed by the store itself where it can (the
// embedded store, in SQL), else from every event its reader gives back.
std::vector<statement_stats> collect_stats(reader& store, const stats_query& q,
                                           const scan_progress& progress = {});

}  // namespace dbtrace
