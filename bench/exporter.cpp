// SPDX-License-Identifier: Apache-2.0
// Exporter throughput on one core: batches of span views written by each
// store's writer, as the exporter thread does it (events per second: a SQL
// span is two OSProfiler events).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/sql.hpp"
#include "trace/clock.hpp"
#include "trace/ids.hpp"
#include "trace/record.hpp"

namespace {

using dbtrace::detail::record;

constexpr std::size_t batch_records = 2048;  // as the pipeline batches

constexpr std::size_t spans_per_trace = 20;

// Gives each run of 20 records a new trace, as requests of 20 statements
// would, later than the batch before (a store's time-ordered keys see time
// go forward, as in a service).
void new_traces(std::vector<record>& records) {
  dbtrace::detail::id128 base;
  const std::int64_t later = records.back().end_ns - records.front().start_ns;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (i % spans_per_trace == 0) base = dbtrace::detail::new_uuid4();
    records[i].base_id = records[i].parent_id = base;
    records[i].trace_id = dbtrace::detail::new_span_id(base);
    records[i].start_ns += later;
    records[i].end_ns += later;
  }
}

// A batch of SQL span records like a busy service produces.
std::vector<record> make_records() {
  dbtrace::options o;
  o.enabled = true;
  o.connection_string = "memory://bench";
  dbtrace::init(o);  // the statement table needs SQL tracing on
  const auto target = dbtrace::intern_target({"postgresql", "app", "10.0.0.5", 5432});
  const auto stmt = dbtrace::intern_statement("SELECT id, name, email FROM users WHERE id = $1");
  std::vector<record> records;
  const auto base = dbtrace::detail::new_uuid4();
  std::int64_t now = dbtrace::detail::wall_ns();
  for (std::size_t i = 0; i < batch_records; ++i) {
    records.push_back({dbtrace::detail::record_kind::sql, base, dbtrace::detail::new_uuid4(), base,
                       now, now + 80000, stmt.get(), target.get(), 1, 0, nullptr});
    records.back().trace_id = dbtrace::detail::new_span_id(base);
    now += 100000;
  }
  return records;
}

void export_batches(benchmark::State& state, const std::string& connection_string) {
  auto records = make_records();
  auto w = dbtrace::make_writer({connection_string, "host", "project", "service", false});
  std::vector<dbtrace::span_view> views;
  std::string error;
  for (auto _ : state) {
    new_traces(records);
    views.clear();
    for (const auto& r : records) views.push_back(dbtrace::detail::view_of(r));
    if (w->write(views, error) != dbtrace::write_result::ok) state.SkipWithError(error.c_str());
  }
  w->flush(error);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch_records * 2));
  dbtrace::shutdown();
}

void export_to_jsonl(benchmark::State& state) {
  const auto path = std::filesystem::temp_directory_path() / "dbtrace-bench.jsonl";
  std::filesystem::remove(path);
  export_batches(state, "file://" + path.string());
  std::filesystem::remove(path);
}
BENCHMARK(export_to_jsonl)->Unit(benchmark::kMicrosecond)->UseRealTime();

void export_to_sqlite(benchmark::State& state) {
  const auto path = std::filesystem::temp_directory_path() / "dbtrace-bench.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  export_batches(state, "sqlite:///" + path.string());
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}
BENCHMARK(export_to_sqlite)->Unit(benchmark::kMicrosecond)->UseRealTime();

#ifdef DBTRACE_BENCH_HAVE_REDIS
// Against the Redis server DBTRACE_BENCH_REDIS names (bench/run.sh starts one).
void export_to_redis(benchmark::State& state) {
  const char* uri = std::getenv("DBTRACE_BENCH_REDIS");
  if (!uri) {
    state.SkipWithError("DBTRACE_BENCH_REDIS is not set");
    for (auto _ : state) {
    }
    return;
  }
  export_batches(state, uri);
}
BENCHMARK(export_to_redis)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
