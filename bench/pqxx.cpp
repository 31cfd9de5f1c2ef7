// SPDX-License-Identifier: Apache-2.0
// Traced vs raw libpqxx exec_prepared over loopback (DBTRACE_BENCH_PG names the server):
// the same libpqxx calls, with tracing off and inside a trace (dbtrace::pqxx is linked).
#include <benchmark/benchmark.h>

#include <cstdlib>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include <pqxx/pqxx>
#include "null_writer.hpp"

namespace {

using dbtrace::bench::null_writer;

const char* server() {
  const char* s = std::getenv("DBTRACE_BENCH_PG");
  return s ? s : "";
}

void start(bool enabled) {
  dbtrace::options o;
  o.enabled = enabled;
  o.queue_size = 1 << 20;
  dbtrace::init(o, std::make_unique<null_writer>());
}

void raw_exec_prepared(benchmark::State& state) {
  start(false);
  pqxx::connection c{server()};
  c.prepare("q", "SELECT $1::int + 1");
  pqxx::nontransaction n{c};
  int i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(n.exec_prepared("q", ++i));
  dbtrace::shutdown();
}

void traced_exec_prepared(benchmark::State& state) {
  start(true);
  pqxx::connection c{server()};
  c.prepare("q", "SELECT $1::int + 1");
  dbtrace::trace t;
  pqxx::nontransaction n{c};
  int i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(n.exec_prepared("q", ++i));
  state.counters["dropped"] = static_cast<double>(dbtrace::stats().dropped);
  dbtrace::shutdown();
}

BENCHMARK(raw_exec_prepared)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(traced_exec_prepared)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
