// Traced vs raw SOCI on in-memory SQLite: what an application pays per statement.
#include <benchmark/benchmark.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "dbtrace/soci.hpp"
#include "null_writer.hpp"

namespace {

using dbtrace::bench::null_writer;

enum class mode { raw, raw_multithreaded, traced, traced_disabled };

std::unique_ptr<soci::session> open(mode m) {
  dbtrace::options o;
  o.enabled = m == mode::traced;
  o.queue_size = 1 << 20;
  dbtrace::init(o, std::make_unique<null_writer>());
  std::unique_ptr<soci::session> sql =
      (m == mode::raw || m == mode::raw_multithreaded)
          ? std::make_unique<soci::session>(soci::sqlite3, ":memory:")
          : std::make_unique<dbtrace::soci::session>(soci::sqlite3, ":memory:");
  *sql << "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)";
  soci::transaction tr(*sql);
  for (int i = 1; i <= 1000; ++i)
    *sql << "INSERT INTO users (id, name) VALUES (:id, 'user')", soci::use(i);
  tr.commit();
  return sql;
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
