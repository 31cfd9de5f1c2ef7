// SPDX-License-Identifier: Apache-2.0
// The statement record API the shims (SOCI, libpqxx) use: one sql_span per execution.
// Thread safety: sql_span belongs to the thread that made it; intern_* may be
// called from any thread, and what they return stays valid for the process.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <typeinfo>

#include "dbtrace/value.hpp"

#include "dbtrace/detail/id128.hpp"

namespace dbtrace {

// Where statements run; known once per connection, recorded on every db-start
// under OTel names (db.system.name, db.namespace, server.address, server.port).
struct db_target {
  std::string system;      // "sqlite", "postgresql", ...
  std::string name_space;  // the database (db.namespace); never a password
  std::string address;     // server.address, empty for embedded databases
  int port = 0;            // server.port, 0 when there is none
};
struct statement_info;
struct target_info;
namespace detail {
struct record_extra;
// True while SQL statements are recorded (tracing on, trace_sql on). Read
// inline so that disabled tracing costs one relaxed load and a branch.
extern std::atomic<bool> g_sql;
// True while bound values are recorded too (g_sql and record_params).
extern std::atomic<bool> g_record_params;
// Counts what could not be recorded (`what`: "a bound value", "an error",
// "a span", …) in stats().lost_details; the first is said on stderr.
void count_lost_detail(const char* what) noexcept;
// Finishes the SQL spans this thread keeps open (sql_span::keep_open) whose
// parent is `parent`, or all of them (a trace ends): nothing stays pending.
void close_open_sql_spans(const id128* parent = nullptr) noexcept;
// Nonzero while a shim that records its own spans is inside its driver: the
// libpq tracer (dbtrace::pqxx) then leaves the driver's libpq calls alone, so
// a statement SOCI's PostgreSQL backend runs is one span, not two.
// Initial-exec: one %fs-relative increment, no __tls_get_addr.
extern __thread unsigned t_driver_calls __attribute__((tls_model("initial-exec")));
class driver_call {
 public:
  driver_call() noexcept { ++t_driver_calls; }
  ~driver_call() { --t_driver_calls; }
  driver_call(const driver_call&) = delete;
  driver_call& operator=(const driver_call&) = delete;
};
// Registers a shim's check that it can record (the libpq tracer: that libpq's
// calls reach it); init runs each when it turns SQL tracing on.
void on_sql_init(void (*check)() noexcept) noexcept;
}  // namespace detail

// A target/statement known to the recorder. Copyable handles; the empty
// handle means "not recorded" (tracing off) and is fine to pass on.
class target_ref {
 public:
  target_ref() = default;
  explicit target_ref(const target_info* p) : p_(p) {}
  const target_info* get() const noexcept { return p_; }

 private:
  const target_info* p_ = nullptr;
};
class statement_ref {
 public:
  statement_ref() = default;
  explicit statement_ref(const statement_info* p) : p_(p) {}
  const statement_info* get() const noexcept { return p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  // The statement's leading keyword (db.operation.name), found when interned.
  std::string_view operation() const noexcept;

 private:
  const statement_info* p_ = nullptr;
};

// Interns a connection's target once (at connect time).
target_ref intern_target(const db_target& t) noexcept;

// What a connection string says about its target: db.namespace (dbname / db /
// the database path), server.address and server.port, from a URI
// (`postgresql://user:secret@host:5432/app?…`) or key=value pairs
// (`dbname=app host=db port=5432 password=…`). The password is never read.
db_target describe_connection(std::string system, std::string_view connection_string);

// Interns a statement text: truncated to max_statement_length and sanitized
// once, then looked up without a lock or an allocation. Shims call it at
// prepare time; for one-shot statements per execution. Returns an empty
// handle when SQL tracing is off or the statement table is full (the text is
// then copied into the span instead).
statement_ref intern_statement(std::string_view sql) noexcept;
// The same, read in the target's SQL dialect: for MySQL and MariaDB, text in
// double quotes is a string (a literal that sanitize_statements hides) and a
// backslash escapes a quote.
statement_ref intern_statement(std::string_view sql, target_ref target) noexcept;

// The statement's leading keyword, uppercased ("SELECT", "INSERT"), skipping
// blanks, parentheses and comments; empty when there is none.
std::string statement_operation(std::string_view sql);

// The readable name of a type ("pqxx::undefined_table"): what spans record as
// etype for an exception.
std::string type_name(const std::type_info& type);

// True while SQL statements are recorded at all (tracing on, trace_sql on),
// whether or not a trace is active on this thread: shims prepare for it.
inline bool sql_tracing_enabled() noexcept {
  return detail::g_sql.load(std::memory_order_relaxed);
}

// True when SQL statements are being recorded right now on this thread:
// tracing on, trace_sql on, and a sampled trace active.
bool sql_recording() noexcept;

// One execution of one statement. Construct right before the call to the
// database and let it go out of scope right after; the destructor records a
// db-start/db-stop pair. Inert (one load and a branch) when not recording.
class sql_span {
 public:
  sql_span(target_ref target, statement_ref statement) noexcept {
    if (detail::g_sql.load(std::memory_order_relaxed)) begin(target, statement);
  }
  // For a statement that was not interned (or could not be): the text is copied.
  sql_span(target_ref target, std::string_view sql) noexcept {
    if (detail::g_sql.load(std::memory_order_relaxed)) begin(target, sql);
  }
  ~sql_span() {
    if (on_) finish();
  }
  sql_span(const sql_span&) = delete;
  sql_span& operator=(const sql_span&) = delete;
  // Takes over `other`'s execution, open or kept open, with all it recorded so
  // far (a shim handing it on); `other` then records nothing.
  sql_span(sql_span&& other) noexcept;
  sql_span& operator=(sql_span&&) = delete;

  bool recording() const noexcept { return on_; }
  // Records this execution (when it is recording) and starts the next one of
  // `statement`: what a shim does when a statement it keeps runs again. The
  // same as destroying the span and making a new one, with less work.
  void restart(target_ref target, statement_ref statement) noexcept;
  // The clock as spans read it: a reading for started_at, not a time of day
  // (the exporter makes it one). A span made after the fact (a prepare that
  // failed) takes the time read before the call.
  static std::int64_t clock() noexcept;
  void started_at(std::int64_t clock_ns) noexcept {
    if (on_) start_ns_ = clock_ns;
  }
  // This execution may outlive the call that started it (a cursor the
  // application fetches from later): the span is then finished by the next
  // execution, by its destruction, or at the latest when the span or trace
  // around it ends, so a request never leaves it pending.
  void keep_open() noexcept;
  // The database's work ended now (when a span stays open across calls, e.g.
  // a fetch loop, its stop time is the end of the last call, not its destruction).
  void end_now() noexcept;
  // sqlcommenter: `sql` with /*traceparent='00-<trace>-<this span>-01'*/
  // appended, for the text sent to the server (the span keeps the user's text).
  // Unchanged when sqlcommenter is off, nothing is recorded, or the statement
  // already has a comment.
  std::string with_comment(const std::string& sql) const;
  // Rows returned or affected (db.response.returned_rows).
  void rows(std::int64_t n) noexcept { rows_ = n; }
  // Rows sent in one bulk execution (db.operation.batch.size).
  void batch_size(std::int64_t n) noexcept { batch_ = n; }
  // True when bound values should be passed to param() (record_params is on).
  bool wants_params() const noexcept {
    return on_ && detail::g_record_params.load(std::memory_order_relaxed);
  }
  // Appends one bound value (string, number, bool, or null for a NULL indicator;
  // an array or object for a row of a bulk execution).
  void param(value bound) noexcept;
  // The statement failed: etype is the exception's type, message its text;
  // sqlstate (db.response.status_code) and category (e.g. SOCI's) when known.
  void error(std::string_view etype, std::string_view message, std::string_view sqlstate = {},
             std::string_view category = {}) noexcept;

 private:
  void begin(target_ref target, statement_ref statement) noexcept;
  void begin(target_ref target, std::string_view sql) noexcept;
  void start(target_ref target) noexcept;
  void finish() noexcept;
  void record_execution() noexcept;  // finish() but for the list of open spans
  friend void detail::close_open_sql_spans(const detail::id128*) noexcept;
  void end_and_finish_from_list() noexcept;
  void unlink() noexcept;
  bool on_ = false;
  bool registered_ = false;  // in the thread's list of open spans (keep_open)
  // That list, doubly linked (O(1) in and out), and its head, of the thread
  // that kept the span open; set by keep_open, read only while registered_,
  // so a span that records nothing never writes them.
  sql_span* prev_open_;
  sql_span* next_open_;
  sql_span** open_list_;
  const statement_info* statement_ = nullptr;
  const target_info* target_ = nullptr;
  // (rows_ apart from the zeroed fields: restart's stores then need no
  // constant from memory, a cache line SQLite's work evicts between statements.)
  std::int64_t batch_ = 0;
  std::int64_t end_ns_ = 0;
  std::int64_t rows_ = -1;
  std::int64_t start_ns_ = 0;
  detail::record_extra* extra_ = nullptr;  // owned; only made for errors, params, uninterned text
  detail::id128 base_id_, parent_id_;
  // This span's own id, drawn when first needed: by with_comment, which sends
  // it, or else by the exporter (zero until then), off the application's thread.
  mutable detail::id128 trace_id_;
};

}  // namespace dbtrace
