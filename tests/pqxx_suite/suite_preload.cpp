// SPDX-License-Identifier: Apache-2.0
// Preloaded into libpqxx's own test runner (with libdbtrace_pqxx.so) by
// tests/pqxx_suite/run.sh: the whole run is one trace, its spans go to
// $DBTRACE_SUITE_SPANS (JSON lines), and every connection libpq opens writes
// libpq's own protocol trace to a file of its own in $DBTRACE_SUITE_PROTOCOL
// (a directory): what libpq sent, counted without dbtrace. libpqxx 8's runner
// runs its tests on worker threads, four at a time: each thread that connects
// joins the run's trace, and each connection's trace stays whole.
#include <dlfcn.h>
#include <libpq-fe.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "dbtrace/dbtrace.hpp"

namespace {

const char* protocol_dir() {
  return std::getenv("DBTRACE_SUITE_PROTOCOL");
}

// The protocol trace file of each open connection.
std::mutex files_lock;
std::map<const PGconn*, std::FILE*>& files() {
  static auto* f = new std::map<const PGconn*, std::FILE*>;  // (outlives exit)
  return *f;
}
std::FILE* file_of(const PGconn* conn) {
  std::lock_guard<std::mutex> lock(files_lock);
  auto it = files().find(conn);
  return it == files().end() ? nullptr : it->second;
}

// The run's trace: opened before the runner's main, closed after it.
struct suite_trace {
  std::unique_ptr<dbtrace::trace> run;
  dbtrace::context context;
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
    context = dbtrace::current_context();
  }
  ~suite_trace() {
    run.reset();
    dbtrace::shutdown();
    std::lock_guard<std::mutex> lock(files_lock);
    for (auto& [conn, f] : files()) std::fflush(f);
  }
} the_suite;

// A thread that connects outside any trace (a runner's worker) joins the run's.
void join_the_run() {
  thread_local std::unique_ptr<dbtrace::attach> joined;
  if (!joined && the_suite.context.valid() && !dbtrace::current_context().valid())
    joined = std::make_unique<dbtrace::attach>(the_suite.context);
}

PGconn* traced(PGconn* conn) {
  if (!conn || !protocol_dir()) return conn;
  join_the_run();
  static std::atomic<int> connections{0};
  const std::string path =
      std::string(protocol_dir()) + "/" + std::to_string(++connections) + ".txt";
  if (std::FILE* f = std::fopen(path.c_str(), "w")) {
    {
      std::lock_guard<std::mutex> lock(files_lock);
      files()[conn] = f;
    }
    PQtrace(conn, f);
    PQsetTraceFlags(conn, PQTRACE_SUPPRESS_TIMESTAMPS);
  }
  return conn;
}

}  // namespace

// libpq's connecting calls, each connection's protocol traced from the start;
// and its tracing calls, kept from undoing that (libpqxx 6.4 calls PQuntrace
// on every connection it opens).
extern "C" {
void PQtrace(PGconn* conn, FILE* stream) {
  static const auto real = reinterpret_cast<decltype(&PQtrace)>(dlsym(RTLD_NEXT, "PQtrace"));
  if (!protocol_dir() || stream == file_of(conn)) real(conn, stream);
}
void PQuntrace(PGconn* conn) {
  static const auto real = reinterpret_cast<decltype(&PQuntrace)>(dlsym(RTLD_NEXT, "PQuntrace"));
  if (!protocol_dir()) real(conn);
}
// A connection's file is closed with it (a suite opens hundreds); taken out
// first, as another connection may be given the same address once it is closed.
void PQfinish(PGconn* conn) {
  static const auto real = reinterpret_cast<decltype(&PQfinish)>(dlsym(RTLD_NEXT, "PQfinish"));
  std::FILE* f = nullptr;
  {
    std::lock_guard<std::mutex> lock(files_lock);
    if (auto it = files().find(conn); it != files().end()) {
      f = it->second;
      files().erase(it);
    }
  }
  real(conn);  // (its Terminate message goes to f)
  if (f) std::fclose(f);
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
