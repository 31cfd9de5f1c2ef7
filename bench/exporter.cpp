// Exporter throughput on one core: records formatted into events and written
// by a driver, as the exporter thread does it (events per second).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/drivers/jsonl.hpp"
#include "dbtrace/drivers/sqlite.hpp"
#ifdef DBTRACE_BENCH_HAVE_REDIS
#include "dbtrace/drivers/redis.hpp"
#endif
#include "dbtrace/sql.hpp"
#include "format.hpp"
#include "ids.hpp"
#include "runtime.hpp"

namespace {

using dbtrace::detail::record;

constexpr std::size_t batch_records = 512;  // as the pipeline batches

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
    now += 100000;
  }
  return records;
}

void export_batches(benchmark::State& state, dbtrace::driver& d) {
  auto records = make_records();
  dbtrace::detail::event_formatter fmt("project", "service", "host");
  std::vector<dbtrace::event> events;
  std::string error;
  for (auto _ : state) {
    std::size_t used = 0;
    for (auto r : records) fmt.add(r, events, used);
    events.resize(used);
    if (d.write(events, error) != dbtrace::write_result::ok) state.SkipWithError(error.c_str());
  }
  d.flush();
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch_records * 2));
  dbtrace::shutdown();
}

void export_to_jsonl(benchmark::State& state) {
  const auto path = std::filesystem::temp_directory_path() / "dbtrace-bench.jsonl";
  std::filesystem::remove(path);
  auto d = dbtrace::drivers::make_jsonl_driver(path.string());
  export_batches(state, *d);
  std::filesystem::remove(path);
}
BENCHMARK(export_to_jsonl)->Unit(benchmark::kMicrosecond)->UseRealTime();

void export_to_sqlite(benchmark::State& state) {
  const auto path = std::filesystem::temp_directory_path() / "dbtrace-bench.db";
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  auto d = dbtrace::drivers::make_sqlite_driver(path.string(), "host");
  export_batches(state, *d);
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
  auto d = dbtrace::drivers::make_redis_driver(uri, false);
  export_batches(state, *d);
}
BENCHMARK(export_to_redis)->Unit(benchmark::kMicrosecond)->UseRealTime();
#endif

}  // namespace

BENCHMARK_MAIN();
