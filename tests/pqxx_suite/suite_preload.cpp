// SPDX-License-Identifier: Apache-2.0
// Preloaded into libpqxx's own test runner (with libdbtrace_pqxx.so) by
// tests/pqxx_suite/run.sh: the whole run is one trace, its spans go to
// $DBTRACE_SUITE_SPANS (JSON lines), and every connection libpq opens writes
// libpq's own protocol trace to $DBTRACE_SUITE_PROTOCOL: what libpq sent,
// counted without dbtrace.
#include <dlfcn.h>
#include <libpq-fe.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "dbtrace/dbtrace.hpp"

namespace {

std::FILE* protocol() {
  static std::FILE* f = [] {
    const char* path = std::getenv("DBTRACE_SUITE_PROTOCOL");
    return path ? std::fopen(path, "w") : nullptr;
  }();
  return f;
}

PGconn* traced(PGconn* conn) {
  if (conn && protocol()) {
    PQtrace(conn, protocol());
    PQsetTraceFlags(conn, PQTRACE_SUPPRESS_TIMESTAMPS);
  }
  return conn;
}

// The run's trace: opened before the runner's main, closed after it.
struct suite_trace {
  std::unique_ptr<dbtrace::trace> run;
  suite_trace() {
    const char* spans = std::getenv("DBTRACE_SUITE_SPANS");
    if (!spans) return;
    dbtrace::options o;
    o.enabled = true;
    o.trace_sql = true;
    o.queue_size = 1 << 20;
    o.connection_string = std::string("file://") + spans;
    dbtrace::init(o);
    run = std::make_unique<dbtrace::trace>();
  }
  ~suite_trace() {
    run.reset();
    dbtrace::shutdown();
    if (protocol()) std::fflush(protocol());
  }
} the_suite;

}  // namespace

// libpq's connecting calls, each connection's protocol traced from the start;
// and its tracing calls, kept from undoing that (libpqxx 6.4 calls PQuntrace
// on every connection it opens).
extern "C" {
void PQtrace(PGconn* conn, FILE* stream) {
  static const auto real = reinterpret_cast<decltype(&PQtrace)>(dlsym(RTLD_NEXT, "PQtrace"));
  if (!protocol() || stream == protocol()) real(conn, stream);
}
void PQuntrace(PGconn* conn) {
  static const auto real = reinterpret_cast<decltype(&PQuntrace)>(dlsym(RTLD_NEXT, "PQuntrace"));
  if (!protocol()) real(conn);
}
PGconn* PQconnectdb(const char* conninfo) {
  static const auto real =
      reinterpret_cast<decltype(&PQconnectdb)>(dlsym(RTLD_NEXT, "PQconnectdb"));
  return traced(real(conninfo));
}
PGconn* PQconnectdbParams(const char* const* keywords, const char* const* values,
                          int expand_dbname) {
  static const auto real =
      reinterpret_cast<decltype(&PQconnectdbParams)>(dlsym(RTLD_NEXT, "PQconnectdbParams"));
  return traced(real(keywords, values, expand_dbname));
}
PGconn* PQconnectStart(const char* conninfo) {
  static const auto real =
      reinterpret_cast<decltype(&PQconnectStart)>(dlsym(RTLD_NEXT, "PQconnectStart"));
  return traced(real(conninfo));
}
PGconn* PQconnectStartParams(const char* const* keywords, const char* const* values,
                             int expand_dbname) {
  static const auto real =
      reinterpret_cast<decltype(&PQconnectStartParams)>(dlsym(RTLD_NEXT, "PQconnectStartParams"));
  return traced(real(keywords, values, expand_dbname));
}
}
