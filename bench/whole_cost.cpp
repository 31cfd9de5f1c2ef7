// SPDX-License-Identifier: Apache-2.0
// What a traced statement costs in total, per store: a SOCI prepared SELECT by
// id on in-memory SQLite, in traces of 20 statements, run raw and traced in
// alternation. Reported per statement:
//   app_ns       the application thread's added CPU time (thread CPU clock)
//   total_ns     the process's added CPU time, exporter thread and the final
//                flush included (process CPU clock): what a server at capacity pays
//   dropped      events lost in the cost runs (expected 0: the run waits for
//                the exporter every 20,000 statements, as a paced server would)
//   max_rate     the highest of a ladder of rates sustained for two seconds with
//                the default queue_size and nothing dropped (statements/s)
// Stores: the embedded store and JSON lines always; Redis, PostgreSQL and OTLP
// when DBTRACE_BENCH_REDIS, DBTRACE_BENCH_PG_URI, DBTRACE_BENCH_OTLP name a
// server (bench/run.sh starts them on loopback).
#include <benchmark/benchmark.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/soci.hpp"
#include "users_db.hpp"

namespace {

constexpr int statements_per_trace = 20;
constexpr int cost_statements = 400000;
constexpr double ladder_seconds = 2;
constexpr int rounds = 5;  // raw and traced alternate; the median of each is kept

std::int64_t cpu_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Runs `n` statements in traces of 20; with `rate` > 0, paced to that many
// statements per second; with `flush_every`, waits for the exporter that often
// (the wait is idle time: only the CPU spent counts).
void run(soci::session& sql, int n, double rate, int flush_every = 0) {
  int id = 1;
  std::string name;
  soci::statement st =
      (sql.prepare << "SELECT name FROM users WHERE id = :id", soci::into(name), soci::use(id));
  const auto begin = std::chrono::steady_clock::now();
  int done = 0;
  while (done < n) {
    dbtrace::trace t;
    for (int i = 0; i < statements_per_trace && done < n; ++i, ++done) {
      id = done % 1000 + 1;
      st.execute(true);
    }
    if (flush_every > 0 && done % flush_every == 0) dbtrace::flush(std::chrono::minutes(1));
    if (rate > 0) {
      const auto due = begin + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(done / rate));
      if (std::chrono::steady_clock::now() < due) std::this_thread::sleep_until(due);
    }
  }
}

struct cost {
  std::int64_t thread_ns, process_ns;
};

cost measure(soci::session& sql, int n, bool flush) {
  const auto t0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  const auto p0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
  run(sql, n, 0, flush ? 20000 : 0);
  const auto t1 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  if (flush) dbtrace::flush(std::chrono::minutes(5));
  return {t1 - t0, cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - p0};
}

// Empties the store before a run, so runs stay comparable and disks and servers small.
void reset(const std::string& store) {
  auto starts = [&](const char* prefix) { return store.rfind(prefix, 0) == 0; };
  if (starts("sqlite:///")) {
    for (const char* suffix : {"", "-wal", "-shm"})
      std::filesystem::remove(store.substr(10) + suffix);
  } else if (starts("file://")) {
    std::filesystem::remove(store.substr(7));
  } else if (starts("redis://")) {
    std::system(("redis-cli -u '" + store + "' FLUSHDB >/dev/null").c_str());
  } else if (starts("postgresql://")) {
    std::system(("psql -q '" + store + "' -c 'TRUNCATE data' >/dev/null 2>&1").c_str());
  }
}

dbtrace::options options_for(const std::string& store, std::size_t queue_size) {
  reset(store);
  dbtrace::options o;
  o.enabled = true;
  o.connection_string = store;
  o.queue_size = queue_size;
  return o;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void whole_cost(benchmark::State& state, std::string store) {
  const double statements = cost_statements;
  std::vector<double> app, total, rates;
  double dropped = 0;
  for (auto _ : state) {
    for (int r = 0; r < rounds; ++r) {
      dbtrace::shutdown();
      const auto raw_session = users_db(false);
      const cost raw = measure(*raw_session, cost_statements, false);

      // The default queue, and a wait for the exporter every 20,000 statements:
      // the cost of everything, nothing dropped.
      dbtrace::init(options_for(store, dbtrace::options{}.queue_size));
      const auto traced_session = users_db(true);
      const cost traced = measure(*traced_session, cost_statements, true);
      dropped += static_cast<double>(dbtrace::stats().dropped);
      dbtrace::shutdown();
      app.push_back(static_cast<double>(traced.thread_ns - raw.thread_ns) / statements);
      total.push_back(static_cast<double>(traced.process_ns - raw.process_ns) / statements);
    }
    // The highest rate two seconds of load run at with the default queue
    // (which holds more than that at the lower rates: the rate the exporter keeps up with is
    // the one that counts) and nothing dropped.
    double sustained = 0;
    const bool ladder = !std::getenv("DBTRACE_BENCH_COST_ONLY");  // for profiling the cost runs
    for (double rate : {100e3, 200e3, 300e3, 500e3, 750e3, 1000e3}) {
      if (!ladder) break;
      dbtrace::init(options_for(store, dbtrace::options{}.queue_size));
      const auto session = users_db(true);
      run(*session, static_cast<int>(rate * ladder_seconds), rate);
      dbtrace::flush(std::chrono::minutes(1));
      const bool kept_up = dbtrace::stats().dropped == 0;
      dbtrace::shutdown();
      if (!kept_up) break;
      sustained = rate;
    }
    rates.push_back(sustained);
  }
  state.counters["app_ns"] = median(app);
  state.counters["total_ns"] = median(total);
  state.counters["dropped"] = dropped;
  state.counters["max_rate"] = median(rates);
}

std::string temp_store(const char* scheme, const char* name) {
  const auto path = std::filesystem::temp_directory_path() / name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  return std::string(scheme) + path.string();
}

const bool registered = [] {
  auto add = [](const char* name, std::string store) {
    benchmark::RegisterBenchmark(name, whole_cost, std::move(store))
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  };
  add("whole_cost/embedded", temp_store("sqlite:///", "dbtrace-bench-whole.db"));
  add("whole_cost/jsonl", temp_store("file://", "dbtrace-bench-whole.jsonl"));
  for (const auto& [name, variable] :
       {std::pair{"whole_cost/redis", "DBTRACE_BENCH_REDIS"},
        std::pair{"whole_cost/postgres", "DBTRACE_BENCH_PG_URI"},
        std::pair{"whole_cost/otlp", "DBTRACE_BENCH_OTLP"}})
    if (const char* store = std::getenv(variable); store && *store) add(name, store);
  return true;
}();

}  // namespace

BENCHMARK_MAIN();
