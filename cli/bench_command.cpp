// SPDX-License-Identifier: Apache-2.0
// Raw and traced connections of the same kind run the same prepared statement
// in interleaved rounds (drift on a shared machine hits both alike). Latency
// is timed per execution; CPU is the process's (exporter included) and the
// application thread's, over whole rounds, each traced round ending with a
// flush so that none of its export work spills into the next raw round.
#include "bench_command.hpp"

#include <stdlib.h>
#include <time.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "common.hpp"
#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"

#ifdef DBTRACE_CLI_HAVE_SOCI
#include <soci/soci.h>

#include "dbtrace/soci.hpp"
#endif
#ifdef DBTRACE_CLI_HAVE_PQXX
#include <pqxx/pqxx>
#endif

namespace dbtrace::cli {
namespace {

// The built-in workload: a table of its own in in-memory SQLite.
constexpr const char* builtin_db = "sqlite3://db=:memory:";
constexpr const char* builtin_statement = "SELECT name, total FROM bench_items WHERE id = :id";
constexpr int statements_per_trace = 20;

std::int64_t cpu_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// One connection that runs the statement once per call, fetching every row.
class workload {
 public:
  virtual ~workload() = default;
  virtual void run_once() = 0;
};

[[maybe_unused]] bool is_integer(const std::string& s) {  // (SOCI only)
  if (s.empty() || s.size() > 18) return false;
  for (std::size_t i = s[0] == '-' ? 1 : 0; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return s != "-";
}

#ifdef DBTRACE_CLI_HAVE_SOCI
template <class Session>
class soci_workload final : public workload {
 public:
  soci_workload(const std::string& db, const std::string& text,
                const std::vector<std::string>& params, bool builtin)
      : session_(db) {
    if (builtin) {
      session_ << "CREATE TABLE bench_items (id INTEGER PRIMARY KEY, name TEXT, total REAL)";
      ::soci::transaction tx(session_);
      for (int i = 1; i <= 1000; ++i) {
        // SOCI binds by reference and runs the statement at the end of the
        // full expression: the values must outlive it (no temporaries).
        const std::string name = "item " + std::to_string(i);
        const double total = i * 1.5;
        session_ << "INSERT INTO bench_items VALUES (:id, :name, :total)", ::soci::use(i),
            ::soci::use(name), ::soci::use(total);
      }
      tx.commit();
    }
    // Integers bind as integers (what a typed application binds), the rest as text.
    for (const auto& p : params) {
      if (is_integer(p))
        numbers_.push_back(std::stoll(p));
      else
        texts_.push_back(p);
    }
    statement_ = std::make_unique<::soci::statement>(session_);
    statement_->exchange(::soci::into(row_));
    std::size_t n = 0, t = 0;
    for (const auto& p : params) {
      if (is_integer(p))
        statement_->exchange(::soci::use(numbers_[n++]));
      else
        statement_->exchange(::soci::use(texts_[t++]));
    }
    statement_->alloc();
    statement_->prepare(text);
    statement_->define_and_bind();
  }
  ~soci_workload() override { statement_.reset(); }  // before its session
  void run_once() override {
    if (statement_->execute(true))
      while (statement_->fetch()) {
      }
  }

 private:
  Session session_;
  ::soci::row row_;
  std::vector<long long> numbers_;  // bound by address: filled before binding, never grown after
  std::vector<std::string> texts_;
  std::unique_ptr<::soci::statement> statement_;
};
#endif

#ifdef DBTRACE_CLI_HAVE_PQXX
// libpqxx as it is: linking dbtrace::pqxx traces it, inside a trace (the traced side).
class pqxx_workload final : public workload {
 public:
  pqxx_workload(const std::string& db, const std::string& text, std::vector<std::string> params)
      : connection_(db), params_(std::move(params)) {
    connection_.prepare("dbtrace_bench", text);
  }
  void run_once() override {
    ::pqxx::nontransaction tx(connection_);
#if PQXX_VERSION_MAJOR >= 7
    ::pqxx::params values;
    values.append_multi(params_);
    const auto r = tx.exec(::pqxx::prepped{"dbtrace_bench"}, values);
#else
    const auto r = tx.exec_prepared("dbtrace_bench", ::pqxx::prepare::make_dynamic_params(params_));
#endif
    for (const auto& row : r) (void)row;
  }

 private:
  ::pqxx::connection connection_;
  std::vector<std::string> params_;
};
#endif

// Latencies of one side, in ns; CPU over its rounds.
struct side {
  std::vector<std::int64_t> latencies;
  std::int64_t executions = 0, process_cpu_ns = 0, thread_cpu_ns = 0;

  std::int64_t percentile(int p) const {
    if (latencies.empty()) return 0;
    auto sorted = latencies;
    std::sort(sorted.begin(), sorted.end());
    const auto rank = (static_cast<std::size_t>(p) * sorted.size() + 99) / 100;
    return sorted[std::max<std::size_t>(rank, 1) - 1];
  }
  double per_statement(std::int64_t cpu) const {
    return executions ? static_cast<double>(cpu) / static_cast<double>(executions) : 0;
  }
};

constexpr std::size_t max_samples = 4'000'000;  // per side: 32 MB at most

void run_round(workload& w, side& s, std::int64_t executions, bool traced) {
  const auto process0 = cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
  const auto thread0 = cpu_ns(CLOCK_THREAD_CPUTIME_ID);
  std::optional<dbtrace::trace> request;
  for (std::int64_t i = 0; i < executions; ++i) {
    if (traced && i % statements_per_trace == 0) {
      request.reset();
      request.emplace();
    }
    const auto t0 = now_ns();
    w.run_once();
    const auto t1 = now_ns();
    if (s.latencies.size() < max_samples) s.latencies.push_back(t1 - t0);
  }
  request.reset();
  if (traced) dbtrace::flush();  // the exporter's work on this round belongs to it
  s.executions += executions;
  s.process_cpu_ns += cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - process0;
  s.thread_cpu_ns += cpu_ns(CLOCK_THREAD_CPUTIME_ID) - thread0;
}

std::string micros(double ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f µs", ns / 1000.0);
  return buf;
}

// Tracing cannot make a statement cheaper: a traced side that came out
// faster measured the machine's noise, and is said to be.
std::string added(double traced, double raw) {
  char buf[64];
  const double d = (traced - raw) / 1000.0;
  std::snprintf(buf, sizeof buf, d < 0 ? "%+.2f µs (within noise)" : "%+.2f µs", d);
  return buf;
}

}  // namespace

int run_bench(const bench_options& o) {
  const bool builtin = o.db.empty();
  if (builtin && o.api != "soci")
    throw usage_error("--api " + o.api + " needs --db (a libpq connection string)");
  if (builtin && !o.statement.empty())
    throw usage_error("--statement needs --db: the built-in database has only its own table");
  if (o.seconds <= 0) throw usage_error("--seconds must be more than 0");
  const std::string db = builtin ? builtin_db : o.db;
  const std::string text = builtin ? builtin_statement : o.statement;
  if (text.empty()) throw usage_error("--statement is required with --db");
  const std::vector<std::string> params =
      builtin && o.params.empty() ? std::vector<std::string>{"42"} : o.params;

  // Spans go to the store the user names, else to an embedded one of our own.
  std::string store = o.store, scratch;
  if (store.empty()) {
    char dir[] = "/tmp/dbtrace-bench.XXXXXX";
    if (!mkdtemp(dir)) throw std::runtime_error("cannot make a temporary directory");
    scratch = dir;
    store = "sqlite:///" + scratch + "/bench.db";
  }
  struct cleanup {
    std::string dir;
    ~cleanup() {
      std::error_code ec;
      if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
  } remove_scratch{scratch};

  options opts;
  opts.enabled = true;
  opts.connection_string = store;
  opts.project = bench_project;
  opts.service = "bench";
  dbtrace::init(opts);

  std::unique_ptr<workload> raw, traced;
  if (o.api == "soci") {
#ifdef DBTRACE_CLI_HAVE_SOCI
    raw = std::make_unique<soci_workload<::soci::session>>(db, text, params, builtin);
    traced = std::make_unique<soci_workload<dbtrace::soci::session>>(db, text, params, builtin);
#else
    throw usage_error("this dbtrace was built without the SOCI shim (DBTRACE_WITH_SOCI)");
#endif
  } else {
#ifdef DBTRACE_CLI_HAVE_PQXX
    raw = std::make_unique<pqxx_workload>(db, text, params);
    traced = std::make_unique<pqxx_workload>(db, text, params);
#else
    throw usage_error("this dbtrace was built without the libpqxx shim (DBTRACE_WITH_PQXX)");
#endif
  }

  // Rounds of about 50 ms, sized from a first timing; a warm-up of each side.
  side warm_raw, warm_traced, r, t;
  run_round(*raw, warm_raw, 200, false);
  run_round(*traced, warm_traced, 200, true);
  const double per_execution_ns = std::max(1.0, static_cast<double>(warm_raw.percentile(50)));
  std::int64_t round = static_cast<std::int64_t>(50e6 / per_execution_ns);
  round = std::max<std::int64_t>(statements_per_trace,
                                 round / statements_per_trace * statements_per_trace);
  const auto before = dbtrace::stats();
  const auto deadline = now_ns() + static_cast<std::int64_t>(o.seconds * 1e9);
  while (now_ns() < deadline) {
    run_round(*raw, r, round, false);
    run_round(*traced, t, round, true);
  }
  dbtrace::flush();
  const auto after = dbtrace::stats();
  traced.reset();
  raw.reset();
  dbtrace::shutdown();

  const auto recorded = after.recorded - before.recorded;
  const auto stored = after.exported - before.exported;
  const auto dropped = after.dropped - before.dropped;
  const std::string where =
      builtin ? "in-memory SQLite (a 1,000-row table of its own)" : redact_connection_string(db);
  const std::string stored_in = scratch.empty() ? redact_connection_string(store)
                                                : "an embedded store in a temporary directory";
  if (o.as_json) {
    nlohmann::ordered_json j;
    j["api"] = o.api;
    j["database"] = where;
    j["statement"] = text;
    j["params"] = params;
    j["store"] = stored_in;
    j["seconds"] = o.seconds;
    j["statements_per_trace"] = statements_per_trace;
    for (const auto& [name, s] : {std::pair<const char*, const side*>{"raw", &r}, {"traced", &t}})
      j[name] = {
          {"executions", s->executions},
          {"latency_ns",
           {{"p50", s->percentile(50)}, {"p95", s->percentile(95)}, {"p99", s->percentile(99)}}},
          {"cpu_ns_per_statement",
           {{"application_thread", s->per_statement(s->thread_cpu_ns)},
            {"process", s->per_statement(s->process_cpu_ns)}}}};
    j["added_ns_per_statement"] = {
        {"latency_p50", t.percentile(50) - r.percentile(50)},
        {"application_thread_cpu",
         t.per_statement(t.thread_cpu_ns) - r.per_statement(r.thread_cpu_ns)},
        {"total_cpu", t.per_statement(t.process_cpu_ns) - r.per_statement(r.process_cpu_ns)}};
    // The figures that came out below zero: noise, as the table says.
    j["within_noise"] = nlohmann::ordered_json::array();
    for (const auto& [figure, value] : j["added_ns_per_statement"].items())
      if (value.get<double>() < 0) j["within_noise"].push_back(figure);
    j["events"] = {{"recorded", recorded}, {"stored", stored}, {"dropped", dropped}};
    return write_output(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", "");
  }
  std::vector<std::vector<std::string>> rows = {
      {"executions", std::to_string(r.executions), std::to_string(t.executions), ""},
  };
  for (int p : {50, 95, 99})
    rows.push_back(
        {"latency p" + std::to_string(p), micros(static_cast<double>(r.percentile(p))),
         micros(static_cast<double>(t.percentile(p))),
         added(static_cast<double>(t.percentile(p)), static_cast<double>(r.percentile(p)))});
  rows.push_back({"CPU per statement, application thread", micros(r.per_statement(r.thread_cpu_ns)),
                  micros(t.per_statement(t.thread_cpu_ns)),
                  added(t.per_statement(t.thread_cpu_ns), r.per_statement(r.thread_cpu_ns))});
  rows.push_back({"CPU per statement, whole process (exporter included)",
                  micros(r.per_statement(r.process_cpu_ns)),
                  micros(t.per_statement(t.process_cpu_ns)),
                  added(t.per_statement(t.process_cpu_ns), r.per_statement(r.process_cpu_ns))});
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%g", o.seconds);
  std::string out = "dbtrace bench: " + o.api + " on " + where + ", " + seconds +
                    " s, raw and traced rounds interleaved, traces of " +
                    std::to_string(statements_per_trace) + " statements\n";
  out += "statement: " + text + "\n";
  out += "spans to: " + stored_in + "\n\n";
  out += table({"", "RAW", "TRACED", "ADDED"}, rows, true);
  out += "\nevents recorded " + std::to_string(recorded) + ", stored " + std::to_string(stored) +
         ", dropped " + std::to_string(dropped) + " (a statement is 2 events)\n";
  return write_output(out, "");
}

}  // namespace dbtrace::cli
