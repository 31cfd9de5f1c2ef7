// SPDX-License-Identifier: Apache-2.0
// A short-lived program whose store is down: init, one request of 27
// statements, flush(), shutdown(), with the default timeouts (30 s and 5 s).
// The time is what the program waits at its end for a store that refuses
// connections (a server not running); an embedded store that works is the
// reference. Before the store could say "unreachable" this took 33-35 s.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/sql.hpp"

namespace {

void exit_with_store(benchmark::State& state, const std::string& connection_string) {
  dbtrace::options o;
  o.enabled = true;
  o.connection_string = connection_string;
  const auto statement = dbtrace::intern_statement("SELECT name FROM users WHERE id = ?");
  // The dead stores' one line on stderr per init is not what is measured.
  std::FILE* quiet = std::freopen("/dev/null", "w", stderr);
  (void)quiet;
  dbtrace::statistics s;
  for (auto _ : state) {
    dbtrace::init(o);
    {
      dbtrace::trace request;
      for (int i = 0; i < 27; ++i) dbtrace::sql_span span({}, statement);
    }
    dbtrace::flush();
    dbtrace::shutdown();
    s = dbtrace::stats();
  }
  state.counters["dropped"] = static_cast<double>(s.dropped);
  state.counters["exported"] = static_cast<double>(s.exported);
}

const std::string embedded =
    "sqlite:///" + (std::filesystem::temp_directory_path() / "dbtrace-bench-dead-store.db").string();

BENCHMARK_CAPTURE(exit_with_store, embedded_store_alive, embedded)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(exit_with_store, redis_refusing, std::string("redis://127.0.0.1:1/0"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(exit_with_store, postgres_refusing,
                  std::string("postgresql://app:app-secret@127.0.0.1:1/app"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);
BENCHMARK_CAPTURE(exit_with_store, otlp_refusing, std::string("otlp://127.0.0.1:1"))
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace
BENCHMARK_MAIN();
