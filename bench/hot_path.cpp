// SPDX-License-Identifier: Apache-2.0
// What tracing costs the application's thread per statement.
#include <benchmark/benchmark.h>

#include <ctime>
#include <optional>

#include "config/statement_text.hpp"
#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/sql.hpp"
#include "null_writer.hpp"

namespace {

using dbtrace::bench::null_writer;

void start(bool enabled) {
  dbtrace::options o;
  o.enabled = enabled;
  o.queue_size = 1 << 20;
  dbtrace::init(o, std::make_unique<null_writer>());
}

// The exporter formats slower than a tight loop records; let it catch up,
// untimed, so that what is measured is the enqueue path, not the drop path.
constexpr std::size_t drain_every = 16384;
void drain(benchmark::State& state) {
  state.PauseTiming();
  dbtrace::flush();
  state.ResumeTiming();
}

const char* const statement = "SELECT id, name, email FROM users WHERE id = :id";

void disabled_statement(benchmark::State& state) {
  start(false);
  const dbtrace::target_ref target;
  const dbtrace::statement_ref stmt;
  for (auto _ : state) {
    dbtrace::sql_span s(target, stmt);
    benchmark::DoNotOptimize(s);
  }
  dbtrace::shutdown();
}
BENCHMARK(disabled_statement)->Repetitions(5)->ReportAggregatesOnly(true);

void disabled_one_shot_statement(benchmark::State& state) {
  start(false);
  const dbtrace::target_ref target;
  for (auto _ : state) {
    dbtrace::sql_span s(target, dbtrace::intern_statement(statement));
    benchmark::DoNotOptimize(s);
  }
  dbtrace::shutdown();
}
BENCHMARK(disabled_one_shot_statement);

// A prepared statement: interned once, recorded per execution.
void record_prepared_statement(benchmark::State& state) {
  start(true);
  dbtrace::trace t;
  const auto target = dbtrace::intern_target({"sqlite", "app.db", "", 0});
  const auto stmt = dbtrace::intern_statement(statement);
  std::size_t n = 0;
  for (auto _ : state) {
    dbtrace::sql_span s(target, stmt);
    s.rows(1);
    if (++n % drain_every == 0) drain(state);
  }
  state.counters["dropped"] = static_cast<double>(dbtrace::stats().dropped);
  dbtrace::shutdown();
}
BENCHMARK(record_prepared_statement)->Repetitions(5)->ReportAggregatesOnly(true);

// The SOCI shim's pattern for a prepared SELECT: the span stays open after
// execute (rows may still be fetched) and the next execute restarts it.
void record_like_the_soci_shim(benchmark::State& state) {
  start(true);
  dbtrace::trace t;
  const auto target = dbtrace::intern_target({"sqlite", "app.db", "", 0});
  const auto stmt = dbtrace::intern_statement(statement);
  std::optional<dbtrace::sql_span> span;
  span.emplace(target, stmt);
  std::size_t n = 0;
  for (auto _ : state) {
    span->restart(target, stmt);
    span->end_now();
    span->rows(1);
    span->keep_open();
    if (++n % drain_every == 0) drain(state);
  }
  span.reset();
  dbtrace::shutdown();
}
BENCHMARK(record_like_the_soci_shim)->Repetitions(5)->ReportAggregatesOnly(true);

// A request's own cost: a trace opened and closed (new ids, the context stack).
void open_and_close_trace(benchmark::State& state) {
  start(true);
  for (auto _ : state) {
    dbtrace::trace t;
    benchmark::DoNotOptimize(t.active());
  }
  dbtrace::shutdown();
}
BENCHMARK(open_and_close_trace)->Repetitions(5)->ReportAggregatesOnly(true);

// A one-shot statement seen before: the per-thread lookup is included.
void record_known_one_shot_statement(benchmark::State& state) {
  start(true);
  dbtrace::trace t;
  const auto target = dbtrace::intern_target({"sqlite", "app.db", "", 0});
  std::size_t n = 0;
  for (auto _ : state) {
    dbtrace::sql_span s(target, dbtrace::intern_statement(statement));
    s.rows(1);
    if (++n % drain_every == 0) drain(state);
  }
  state.counters["dropped"] = static_cast<double>(dbtrace::stats().dropped);
  dbtrace::shutdown();
}
BENCHMARK(record_known_one_shot_statement)->Repetitions(5)->ReportAggregatesOnly(true);

// For scale: one clock read (a span takes two).
void clock_read(benchmark::State& state) {
  timespec ts;
  for (auto _ : state) {
    clock_gettime(CLOCK_REALTIME, &ts);
    benchmark::DoNotOptimize(ts);
  }
}
BENCHMARK(clock_read);

// sanitize_statements runs once per distinct statement, at intern time.
void sanitize_typical_statement(benchmark::State& state) {
  const std::string sql =
      "SELECT u.id, u.name, o.total FROM users u JOIN orders o ON o.user_id = u.id "
      "WHERE u.email = 'someone@example.com' AND o.created > '2026-01-01' AND o.status IN (1, 2, "
      "3) "
      "ORDER BY o.total DESC LIMIT 20";
  for (auto _ : state) benchmark::DoNotOptimize(dbtrace::detail::sanitize_sql(sql));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sql.size()));
}
BENCHMARK(sanitize_typical_statement);

}  // namespace

BENCHMARK_MAIN();
