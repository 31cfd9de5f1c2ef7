// SPDX-License-Identifier: Apache-2.0
// The libpq workload bench/instructions.sh counts under callgrind: a prepared
// SELECT by id (PQexecPrepared, as libpqxx's exec_prepared sends it) on
// PostgreSQL over loopback, `n` times in traces of 20. Built twice: as
// bench_instructions_libpq_raw, without dbtrace, and as
// bench_instructions_libpq, with dbtrace::pqxx linked. Only the client is
// counted; the server is another process.
//
//   bench_instructions_libpq[_raw] raw CONNINFO N      tracing never initialised
//   bench_instructions_libpq STORE CONNINFO N          traced into STORE
//   bench_instructions_libpq untraced:STORE CONNINFO N initialised, no trace active
#include <libpq-fe.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "dbtrace/dbtrace.hpp"

namespace {

constexpr int statements_per_trace = 20;
constexpr int flush_every = 20000;

bool ok(PGresult* r, ExecStatusType expected, PGconn* conn) {
  const bool good = r && PQresultStatus(r) == expected;
  if (!good) std::fprintf(stderr, "bench_instructions_libpq: %s", PQerrorMessage(conn));
  PQclear(r);
  return good;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: bench_instructions_libpq raw|STORE|untraced:STORE CONNINFO N\n");
    return 2;
  }
  std::string store = argv[1];
  const int n = std::atoi(argv[3]);
  const bool untraced = store.rfind("untraced:", 0) == 0;
  if (untraced) store.erase(0, 9);
  const bool tracing = store != "raw";
  // An untraced run has a second thread alive too, as a traced one has: glibc
  // takes its multithreaded paths (cancellation points in send, recv, poll).
  std::thread idle;
  if (!tracing) idle = std::thread([] {});
  if (tracing) {
    dbtrace::options o;
    o.enabled = true;
    o.trace_sql = true;
    o.connection_string = store;
    dbtrace::init(o);
  }
  PGconn* conn = PQconnectdb(argv[2]);
  if (PQstatus(conn) != CONNECTION_OK) {
    std::fprintf(stderr, "bench_instructions_libpq: %s", PQerrorMessage(conn));
    return 1;
  }
  if (!ok(PQexec(conn,
                 "CREATE TEMPORARY TABLE users AS SELECT i AS id, 'user' || i AS name "
                 "FROM generate_series(1, 1000) i"),
          PGRES_COMMAND_OK, conn) ||
      !ok(PQprepare(conn, "user_by_id", "SELECT name FROM users WHERE id = $1", 1, nullptr),
          PGRES_COMMAND_OK, conn))
    return 1;
  int done = 0;
  char id[16];
  const char* values[] = {id};
  while (done < n) {
    auto t = untraced || !tracing ? nullptr : std::make_unique<dbtrace::trace>();
    for (int i = 0; i < statements_per_trace && done < n; ++i, ++done) {
      std::snprintf(id, sizeof id, "%d", done % 1000 + 1);
      if (!ok(PQexecPrepared(conn, "user_by_id", 1, values, nullptr, nullptr, 0), PGRES_TUPLES_OK,
              conn))
        return 1;
    }
    t.reset();
    if (done % flush_every == 0) dbtrace::flush(std::chrono::minutes(5));
  }
  PQfinish(conn);
  if (idle.joinable()) idle.join();
  if (!tracing) return 0;
  dbtrace::flush(std::chrono::minutes(5));
  const auto s = dbtrace::stats();
  dbtrace::shutdown();
  std::printf("recorded %llu exported %llu dropped %llu\n", (unsigned long long)s.recorded,
              (unsigned long long)s.exported, (unsigned long long)s.dropped);
  const bool expected = untraced ? s.recorded == 0 : s.recorded == 2ull * n;
  return expected && s.dropped == 0 && s.exported == s.recorded ? 0 : 1;
}
