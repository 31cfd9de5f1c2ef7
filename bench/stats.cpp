// SPDX-License-Identifier: Apache-2.0
// `dbtrace stats` over an embedded store of 1,000,000 spans (50,000 traces of
// 20 statements, 1,000 distinct statement texts): the SQL the store runs,
// grouped by text, by summary and by span name. The store is recorded once,
// through the public API, into DBTRACE_BENCH_STATS_DB (default /tmp).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/sql.hpp"
#include "dbtrace/stats.hpp"

namespace {

constexpr int traces = 50'000, per_trace = 20;

std::string store_path() {
  const char* p = std::getenv("DBTRACE_BENCH_STATS_DB");
  return p ? p : "/tmp/dbtrace-bench-stats.db";
}

void record_store_once() {
  static bool done = false;
  if (done) return;
  done = true;
  const auto path = store_path();
  if (std::filesystem::exists(path)) return;  // recorded by an earlier run
  dbtrace::options o;
  o.enabled = true;
  o.connection_string = "sqlite:///" + path;
  o.project = "bench";
  o.service = "stats";
  dbtrace::init(o);
  const auto target = dbtrace::intern_target({"sqlite", "bench", "", 0});
  std::vector<dbtrace::statement_ref> statements;
  for (int i = 0; i < 1000; ++i)
    statements.push_back(dbtrace::intern_statement(
        "SELECT id, total FROM " + std::string(i % 2 ? "orders" : "users") + " WHERE id = ? AND v = " +
        std::to_string(i)));
  for (int t = 0; t < traces; ++t) {
    {
      dbtrace::trace tr;
      for (int i = 0; i < per_trace; ++i) {
        dbtrace::sql_span s(target, statements[static_cast<std::size_t>((t * per_trace + i) % 1000)]);
        s.rows(1);
      }
    }
    if (t % 1000 == 999) dbtrace::flush();  // stay within the queue: every span stored
  }
  dbtrace::flush();
  const auto st = dbtrace::stats();
  dbtrace::shutdown();
  if (st.dropped) std::fprintf(stderr, "bench_stats: %llu events dropped\n", (unsigned long long)st.dropped);
}

void stats_of_a_million_spans(benchmark::State& state) {
  record_store_once();
  dbtrace::stats_query q;
  q.by = static_cast<dbtrace::stats_grouping>(state.range(0));
  std::size_t groups = 0;
  for (auto _ : state) {
    auto store = dbtrace::make_reader("sqlite:///" + store_path());
    groups = dbtrace::collect_stats(*store, q).size();
  }
  state.counters["groups"] = static_cast<double>(groups);
  state.counters["spans"] = traces * per_trace;
}
BENCHMARK(stats_of_a_million_spans)
    ->Arg(static_cast<int>(dbtrace::stats_grouping::text))
    ->Arg(static_cast<int>(dbtrace::stats_grouping::summary))
    ->Arg(static_cast<int>(dbtrace::stats_grouping::name))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
