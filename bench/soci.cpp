// SPDX-License-Identifier: Apache-2.0
// Traced vs raw SOCI on in-memory SQLite: what an application pays per statement.
#include <benchmark/benchmark.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/soci.hpp"
#include "users_db.hpp"
#include "null_writer.hpp"

namespace {

using dbtrace::bench::null_writer;

enum class mode { raw, raw_multithreaded, traced, traced_disabled };

// The default queue_size, as users run it: a larger queue is walked through
// block by block before any block is reused, so every record would be
// written to memory not touched for a long time.
void start_tracing(bool enabled) {
  dbtrace::options o;
  o.enabled = enabled;
  dbtrace::init(o, std::make_unique<null_writer>());
}

std::unique_ptr<soci::session> open(mode m) {
  start_tracing(m == mode::traced);
  return users_db(m == mode::traced || m == mode::traced_disabled);
}

// Lets the exporter catch up without timing it (a tight loop outruns it).
void drain(benchmark::State& state, std::size_t n) {
  if (n % 8192 != 0) return;
  state.PauseTiming();
  dbtrace::flush();
  state.ResumeTiming();
}

// glibc takes faster single-threaded paths in malloc and mutexes until a
// second thread exists; tracing's exporter is one. A server has many anyway,
// so the fair baseline is the raw driver in a process with another thread.
struct idle_thread {
  std::mutex m;
  std::condition_variable cv;
  bool stop = false;
  std::thread t{[this] {
    std::unique_lock<std::mutex> lock(m);
    cv.wait(lock, [this] { return stop; });
  }};
  ~idle_thread() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
    }
    cv.notify_all();
    t.join();
  }
};

void prepared_select(benchmark::State& state, mode m) {
  std::optional<idle_thread> other;
  if (m == mode::raw_multithreaded) other.emplace();
  auto sql = open(m);
  dbtrace::trace t;
  int id = 1;
  std::string name;
  soci::statement st =
      (sql->prepare << "SELECT name FROM users WHERE id = :id", soci::into(name), soci::use(id));
  std::size_t n = 0;
  for (auto _ : state) {
    id = static_cast<int>(n % 1000) + 1;
    st.execute(true);
    drain(state, ++n);
  }
  state.counters["dropped"] = static_cast<double>(dbtrace::stats().dropped);
  dbtrace::shutdown();
}

void one_shot_select(benchmark::State& state, mode m) {
  std::optional<idle_thread> other;
  if (m == mode::raw_multithreaded) other.emplace();
  auto sql = open(m);
  dbtrace::trace t;
  std::string name;
  std::size_t n = 0;
  for (auto _ : state) {
    int id = static_cast<int>(n % 1000) + 1;
    *sql << "SELECT name FROM users WHERE id = :id", soci::into(name), soci::use(id);
    drain(state, ++n);
  }
  state.counters["dropped"] = static_cast<double>(dbtrace::stats().dropped);
  dbtrace::shutdown();
}

// Raw and traced in one process, in alternating blocks of statements: each
// pair of blocks runs under the same conditions (a shared VM's slow spells
// hit both), so the median of the pairs' differences is a steadier measure of
// the time added than the difference of two separate runs. Reported as
// counters: raw_ns, traced_ns and added_ns per statement, and their ratio.
void paired(benchmark::State& state, bool one_shot) {
  start_tracing(true);
  auto raw = users_db(false);
  auto traced = users_db(true);
  dbtrace::trace t;
  int id = 1;
  std::string name;
  const char* query = "SELECT name FROM users WHERE id = :id";
  soci::statement raw_st = (raw->prepare << query, soci::into(name), soci::use(id));
  soci::statement traced_st = (traced->prepare << query, soci::into(name), soci::use(id));
  const int block = one_shot ? 32 : 256;
  auto per_statement_ns = [&](soci::session& sql, soci::statement& st) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < block; ++i) {
      id = i % 1000 + 1;
      if (one_shot)
        sql << query, soci::into(name), soci::use(id);
      else
        st.execute(true);
    }
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() /
           block;
  };
  std::vector<double> raw_ns, traced_ns, added_ns;
  bool raw_first = true;
  for (auto _ : state) {
    // Each goes first in turn: the block after another may find the caches warmer.
    double r = 0, tr = 0;
    if (raw_first) {
      r = per_statement_ns(*raw, raw_st);
      tr = per_statement_ns(*traced, traced_st);
    } else {
      tr = per_statement_ns(*traced, traced_st);
      r = per_statement_ns(*raw, raw_st);
    }
    raw_first = !raw_first;
    raw_ns.push_back(r);
    traced_ns.push_back(tr);
    added_ns.push_back(tr - r);
  }
  auto median = [](std::vector<double>& v) {
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
    return v[v.size() / 2];
  };
  const double raw_median = median(raw_ns);
  const double added = median(added_ns);
  state.counters["raw_ns"] = raw_median;
  state.counters["traced_ns"] = median(traced_ns);
  state.counters["added_ns"] = added;
  state.counters["ratio"] = (raw_median + added) / raw_median;
  state.counters["dropped"] = static_cast<double>(dbtrace::stats().dropped);
  dbtrace::shutdown();
}
BENCHMARK_CAPTURE(paired, prepared_select, false)->Iterations(2000)->Repetitions(5);
BENCHMARK_CAPTURE(paired, one_shot_select, true)->Iterations(2000)->Repetitions(5);

#define DBTRACE_SOCI_BENCH(fn, m) \
  BENCHMARK_CAPTURE(fn, m, mode::m)->Repetitions(5)->ReportAggregatesOnly(true)

DBTRACE_SOCI_BENCH(prepared_select, raw);
DBTRACE_SOCI_BENCH(prepared_select, raw_multithreaded);
DBTRACE_SOCI_BENCH(prepared_select, traced);
DBTRACE_SOCI_BENCH(prepared_select, traced_disabled);
DBTRACE_SOCI_BENCH(one_shot_select, raw);
DBTRACE_SOCI_BENCH(one_shot_select, raw_multithreaded);
DBTRACE_SOCI_BENCH(one_shot_select, traced);
DBTRACE_SOCI_BENCH(one_shot_select, traced_disabled);

}  // namespace

BENCHMARK_MAIN();
