// SPDX-License-Identifier: Apache-2.0
// The store interface: writers take batches of finished spans from the
// exporter; readers give stored traces back to the CLI. Each store's library
// (drivers/<name>) turns span views into its own wire format and registers
// the connection-string schemes it serves.
//
// Threads: the exporter calls a writer's write/flush/shutdown from its one
// thread, never concurrently on one instance, so a writer needs no locks and
// knows nothing about threads or retries (the exporter retries the same batch).
// A reader is opened by the CLI or a test on an instance of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "dbtrace/stats.hpp"

#include "dbtrace/detail/id128.hpp"
#include "dbtrace/options.hpp"
#include "dbtrace/sql.hpp"

namespace dbtrace {

// A statement as recorded, computed once when it is interned and immutable
// afterwards: drivers read its precomputed parts instead of parsing SQL.
struct statement_info {
  std::uint64_t key = 0;        // unique per interned statement in this process; 0 = not interned
  std::string text;             // truncated / sanitized, valid UTF-8: db.query.text
  std::string json_text;        // `text` as a JSON string literal (Python's json.dumps)
  std::string operation;        // db.operation.name ("SELECT"), may be empty
  std::string collection;       // db.collection.name (first table named), may be empty
  std::string summary;          // db.query.summary ("SELECT users"), may be empty
  std::string json_attributes;  // `, "db.operation.name": "SELECT"` for OSProfiler's db-start
};

// A connection's target, interned once per distinct target.
struct target_info {
  std::uint64_t key = 0;  // unique per interned target in this process
  db_target target;
  std::string json_attributes;  // `, "db.system.name": "sqlite", ...` (leading comma)
  bool mysql_quoting = false;   // "…" is a string, \ escapes (MySQL, MariaDB, TiDB)
};

// Why a span failed.
struct span_error {
  std::string etype;     // the exception's type ("pqxx::undefined_table")
  std::string message;   // its text
  std::string sqlstate;  // db.response.status_code, may be empty
  std::string category;  // e.g. SOCI's error category, may be empty
};

// Where a view stands in its span's life. SQL spans are always `whole`; a
// generic span (dbtrace::span) is announced when it starts, so a store that
// keeps events shows a request still running, and sent again when it ends.
enum class span_phase : std::uint8_t {
  whole,     // a finished span: event stores write its start and stop events
  started,   // a generic span began (end_ns is 0); its `finished` view follows
  finished,  // that generic span ended: event stores write its stop event only
};

// One span as the exporter hands it to a writer. Read-only, valid only during
// the write call; every pointer may be null where the comment says so.
struct span_view {
  span_phase phase = span_phase::whole;
  detail::id128 base_id;      // the trace (OSProfiler base_id, OTel trace-id)
  detail::id128 id;           // this span (OSProfiler trace_id; OTel span-id = its low 64 bits)
  detail::id128 parent_id;    // base_id itself for a top-level span
  std::string_view name;      // "db" for SQL spans
  std::int64_t start_ns = 0;  // wall clock, ns since the epoch
  std::int64_t end_ns = 0;    // 0 while `started`
  const statement_info* statement = nullptr;  // SQL spans only (never null there)
  const target_info* target = nullptr;        // SQL spans whose connection is known
  std::int64_t rows = -1;                     // rows returned or affected; -1 unknown
  std::int64_t batch = 0;                     // rows of a bulk execution; 0 not bulk
  const span_error* error = nullptr;          // null unless the span failed
  const nlohmann::json* params = nullptr;     // bound values (an array), only with record_params
  const nlohmann::json* info = nullptr;       // a generic span's info (an object)
  bool is_sql() const noexcept { return statement != nullptr; }
};

// How a write went, and what the exporter does next.
enum class write_result {
  ok,        // written: count as exported
  retry,     // transient (busy, timed out, connection lost): back off, then send the same batch again
  // The store could not be reached (its connect was refused or failed):
  // retried like `retry`, but flush() returns false and shutdown() drops
  // what is unwritten (counted) rather than wait for the store to come back,
  // so a short-lived program with a dead store exits when its work is done.
  unreachable,
  rejected,  // permanent for this batch (bad data, refused): drop it and count as dropped
  partly,    // written, except some spans the store refused for good (refused_events())
};

// What a store writes besides the spans, from the options in force.
struct store_params {
  std::string connection_string;
  std::string host;  // this machine's name: OSProfiler's `host` column and info.host
  std::string project, service;
  bool filter_error_trace = false;  // Redis: index traces that contain errors
  // The whole configuration, for a store's keys of its own (OTLP's otlp_*).
  options settings{};
};

class writer {
 public:
  writer() = default;
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  virtual ~writer() = default;

  // Writes a batch durably enough that a crash of this process loses nothing
  // it returned ok for; connects lazily. `error` receives a one-line reason
  // (never a password) when the result is not ok.
  virtual write_result write(const std::vector<span_view>& batch, std::string& error) noexcept = 0;
  // Makes everything written visible to readers; false (with `error`) when
  // something reported written was lost after all.
  virtual bool flush(std::string& error) noexcept {
    (void)error;
    return true;
  }
  // After write() returned `partly`: how many of the batch's OSProfiler events
  // (a whole SQL span is two) the store refused; they count as dropped, the
  // rest as exported. Not retried: the rest is written, and would be twice.
  virtual std::uint64_t refused_events() noexcept { return 0; }
  // Closes connections; must return within `deadline`.
  virtual void shutdown(std::chrono::milliseconds deadline) noexcept { (void)deadline; }
  // Why this store can never be written, found without waiting (no such
  // directory, permission denied); empty when it may work. init() reports it
  // once, and write() should then reject rather than retry. A server that is
  // down is not such a problem: it may come back.
  virtual std::string permanent_problem() noexcept { return {}; }
};

// For stores kept in a file: why `path` can never be written (its directory
// is missing or not writable, or the file is not writable), or empty.
std::string file_store_problem(const std::string& path) noexcept;

// A name unique to a batch (its first span and phase, 33 hex digits and
// one), the same on each retry of it: a store whose write may have landed
// although its reply was lost makes the retry a no-op with it (Redis,
// PostgreSQL). The batch must not be empty.
std::string batch_marker(const std::vector<span_view>& batch);

// An event read back from a store, in the shape OSProfiler's report needs.
struct stored_event {
  std::string name, base_id, trace_id, parent_id, timestamp;
  // SQL stores may hold NULL here (OSProfiler's notifier without a host, say),
  // which reports show as null.
  std::optional<std::string> project, service, host;
  nlohmann::ordered_json raw;  // the payload as the store holds it (meta.raw_payload.*)
};

struct trace_summary {
  std::string base_id;
  std::string timestamp;  // the trace's first event
};

class reader {
 public:
  reader() = default;
  reader(const reader&) = delete;
  reader& operator=(const reader&) = delete;
  virtual ~reader() = default;

  // Traces in the store, oldest first. Throws store_error when it cannot be read.
  virtual std::vector<trace_summary> list_traces(bool errors_only) = 0;
  // All events of one trace, in stored order; empty when the trace is unknown.
  virtual std::vector<stored_event> read_trace(const std::string& base_id) = 0;
  // Every event in the store; stops early when `each` returns false. The
  // default reads the listed traces one by one; a store that can read all in
  // one pass overrides it.
  virtual void scan(const std::function<bool(const stored_event&)>& each) {
    for (const auto& t : list_traces(false))
      for (const auto& e : read_trace(t.base_id))
        if (!each(e)) return;
  }
  // Every trace's overview, computed by the store itself (the embedded store,
  // in SQL); nullopt when it cannot, and the CLI scans the events instead.
  virtual std::optional<std::vector<trace_overview>> overviews() { return std::nullopt; }
  // Per-group statistics the store computes itself (the embedded store, in
  // SQL); nullopt when it cannot, and collect_stats() scans the events instead.
  virtual std::optional<std::vector<statement_stats>> stats(const stats_query& q) {
    (void)q;
    return std::nullopt;
  }
};

// A kind of store: the schemes it serves ("redis://") and how to open it.
struct store_kind {
  std::vector<std::string> schemes;
  std::function<std::unique_ptr<writer>(const store_params&)> make_writer;
  // Empty for write-only stores (OTLP).
  std::function<std::unique_ptr<reader>(const std::string& connection_string)> make_reader;
};

// Adds a store (or replaces the one serving the same schemes). The built-in
// stores register themselves; call it before init() for a store of your own.
void register_store(store_kind kind);

// Opens the store a connection string names. Both throw config_error for a
// scheme no registered store serves, and never connect (stores connect on
// first use); make_reader also for a write-only store.
std::unique_ptr<writer> make_writer(const store_params& params);
std::unique_ptr<reader> make_reader(const std::string& connection_string);

struct options;
// init() with a writer of the caller's (a custom store, or a test double)
// instead of the one o.connection_string names.
void init(const options& o, std::unique_ptr<writer> w);

// The connection string with any password replaced by `***`, for messages.
std::string redact_connection_string(const std::string& connection_string);

// A store's connection string read as a URI, the one way every store and
// message reads it: scheme://[user[:password]@][host][:port][/path][?k=v&…].
// The userinfo ends at the last '@' (an unencoded password may hold '/', '?'
// or '@'); an authority-less string (sqlite:///x.db) has none.
struct connection_uri {
  std::string scheme;  // "redis", without "://"
  std::string user, password;
  std::string host;                 // an IPv6 address without its brackets
  std::optional<int> port;          // given and from 1 to 65535
  std::string path;                 // from the '/' after the authority: "/0", "/x.db", "//abs.db"
  std::vector<std::pair<std::string, std::string>> query;  // ?a=b&c=d, in order
};

// What is wrong with `connection_string` as a URI (no scheme, a port that is
// not a number from 1 to 65535), never quoting a password; empty when nothing is.
std::string connection_uri_problem(const std::string& connection_string);
// Throws config_error("connection_string: " + the problem) when there is one.
connection_uri parse_connection_uri(const std::string& connection_string);

}  // namespace dbtrace
