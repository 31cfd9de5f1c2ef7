// SPDX-License-Identifier: Apache-2.0
// A fault soak (scripts/soak.sh): THREADS threads run a SOCI workload (a
// prepared select on in-memory SQLite, traces of 10 statements) at a fixed
// rate each, traced into STORE, while the script kills, restarts and pauses
// that store's server. Prints a line a second (elapsed, RSS, counters,
// application errors, the slowest statement of that second), then the totals.
// Exits 1 on an application error or when exported + dropped != recorded.
//   soak STORE THREADS RATE_PER_THREAD SECONDS
#include <soci/sqlite3/soci-sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/soci.hpp"

namespace {

using clock_type = std::chrono::steady_clock;

std::atomic<bool> running{true};
std::atomic<std::uint64_t> statements{0}, errors{0};
std::atomic<std::int64_t> slowest_ns{0};  // of the current second; reset by the reporter

double rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1048576.0;
}

void worker(int rate) {
  dbtrace::soci::session sql(::soci::sqlite3, ":memory:");
  sql << "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)";
  for (int i = 0; i < 100; ++i) sql << "INSERT INTO items (id, name) VALUES (" << i << ", 'n')";
  int id = 0;
  std::string name;
  ::soci::statement select = (sql.prepare << "SELECT name FROM items WHERE id = :id",
                              ::soci::use(id), ::soci::into(name));
  const auto period = std::chrono::nanoseconds(1000000000LL / rate);
  auto next = clock_type::now();
  while (running.load(std::memory_order_relaxed)) {
    dbtrace::trace t;
    for (int i = 0; i < 10 && running.load(std::memory_order_relaxed); ++i) {
      std::this_thread::sleep_until(next);
      next += period;
      id = static_cast<int>(statements.load(std::memory_order_relaxed) % 100);
      const auto begin = clock_type::now();
      try {
        select.execute(true);
      } catch (const std::exception& e) {
        errors.fetch_add(1);
        std::fprintf(stderr, "soak: application error: %s\n", e.what());
      }
      const auto took = (clock_type::now() - begin).count();
      statements.fetch_add(1, std::memory_order_relaxed);
      auto seen = slowest_ns.load(std::memory_order_relaxed);
      while (took > seen && !slowest_ns.compare_exchange_weak(seen, took)) {
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: soak STORE THREADS RATE_PER_THREAD SECONDS\n");
    return 2;
  }
  const int threads = std::stoi(argv[2]), rate = std::stoi(argv[3]), seconds = std::stoi(argv[4]);
  dbtrace::options o;
  o.enabled = true;
  o.connection_string = argv[1];
  o.service = "soak";
  dbtrace::init(o);

  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back(worker, rate);
  double max_rss = 0, first_rss = 0;
  std::int64_t max_latency_ns = 0;
  for (int s = 1; s <= seconds; ++s) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto st = dbtrace::stats();
    const auto slowest = slowest_ns.exchange(0);
    const double rss = rss_mb();
    if (s == 1) first_rss = rss;
    max_rss = std::max(max_rss, rss);
    max_latency_ns = std::max(max_latency_ns, slowest);
    std::printf("t=%3ds rss=%5.1fMB statements=%llu recorded=%llu exported=%llu dropped=%llu "
                "failed_writes=%llu errors=%llu slowest=%.2fms\n",
                s, rss, static_cast<unsigned long long>(statements.load()),
                static_cast<unsigned long long>(st.recorded),
                static_cast<unsigned long long>(st.exported),
                static_cast<unsigned long long>(st.dropped),
                static_cast<unsigned long long>(st.failed_writes),
                static_cast<unsigned long long>(errors.load()), slowest / 1e6);
    std::fflush(stdout);
  }
  running = false;
  for (auto& w : workers) w.join();
  dbtrace::flush(std::chrono::seconds(10));
  dbtrace::shutdown(std::chrono::seconds(5));
  const auto st = dbtrace::stats();
  const bool adds_up = st.exported + st.dropped == st.recorded;
  std::printf("total: statements=%llu errors=%llu max_latency=%.2fms rss=%.1f→%.1fMB (max %.1f) "
              "recorded=%llu exported=%llu dropped=%llu: %s\n",
              static_cast<unsigned long long>(statements.load()),
              static_cast<unsigned long long>(errors.load()), max_latency_ns / 1e6, first_rss,
              rss_mb(), max_rss, static_cast<unsigned long long>(st.recorded),
              static_cast<unsigned long long>(st.exported),
              static_cast<unsigned long long>(st.dropped),
              adds_up ? "exported + dropped = recorded" : "COUNTERS DO NOT ADD UP");
  return errors.load() == 0 && adds_up ? 0 : 1;
}
