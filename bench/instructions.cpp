// SPDX-License-Identifier: Apache-2.0
// The workload bench/instructions.sh counts under callgrind: a SOCI prepared
// SELECT by id on in-memory SQLite, `n` times in traces of 20, raw (a plain
// soci::session, tracing never initialised) or traced into `store`, waiting
// for the exporter every 20,000 statements and at the end, as bench_whole_cost
// does. Not a Google Benchmark: callgrind counts it; its own time means nothing.
//
//   bench_instructions raw N
//   bench_instructions sqlite:///tmp/x.db N
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/soci.hpp"
#include "users_db.hpp"

namespace {

constexpr int statements_per_trace = 20;
constexpr int flush_every = 20000;

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bench_instructions raw|STORE N\n");
    return 2;
  }
  const std::string store = argv[1];
  const int n = std::atoi(argv[2]);
  const bool traced = store != "raw";
  // The raw run has a second thread alive too, as a traced one (and any server) has.
  std::thread idle;
  if (traced) {
    dbtrace::options o;
    o.enabled = true;
    o.connection_string = store;
    dbtrace::init(o);
  } else {
    idle = std::thread([] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); });
  }
  const auto sql = users_db(traced);
  int id = 1;
  std::string name;
  soci::statement st =
      (sql->prepare << "SELECT name FROM users WHERE id = :id", soci::into(name), soci::use(id));
  int done = 0;
  while (done < n) {
    dbtrace::trace t;
    for (int i = 0; i < statements_per_trace && done < n; ++i, ++done) {
      id = done % 1000 + 1;
      st.execute(true);
    }
    if (done % flush_every == 0) dbtrace::flush(std::chrono::minutes(5));
  }
  if (idle.joinable()) idle.join();
  if (!traced) return 0;
  dbtrace::flush(std::chrono::minutes(5));
  const auto s = dbtrace::stats();
  dbtrace::shutdown();
  std::printf("recorded %llu exported %llu dropped %llu\n", (unsigned long long)s.recorded,
              (unsigned long long)s.exported, (unsigned long long)s.dropped);
  return s.dropped == 0 && s.exported == s.recorded ? 0 : 1;
}
