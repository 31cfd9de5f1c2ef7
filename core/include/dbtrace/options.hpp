// dbtrace::options — what a `[profiler]` config section (or DBTRACE_* variables) can set.
// Thread safety: plain values; load_options may be called from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace dbtrace {

// One member per config key, named as the key (design.md, "Configuration").
struct options {
  // Master switch (default false). Off: every hook costs one relaxed load and a branch.
  bool enabled = false;
  // Record SQL statements (default true). Config key `trace_sqlalchemy` or `trace_sql`.
  bool trace_sql = true;
  // Keys that sign outgoing and verify incoming X-Trace-* headers (default SECRET_KEY).
  std::vector<std::string> hmac_keys{"SECRET_KEY"};
  // Where events go: sqlite:///rel.db, sqlite:////abs.db, file:///x.jsonl, memory://name, ...
  std::string connection_string = "sqlite:///dbtrace.db";
  // Recorded on every event (default empty).
  std::string project;
  std::string service;
  // Redis store: also index traces that contain an error (default false).
  bool filter_error_trace = false;
  // Record bound parameter values (default false: values may be secrets).
  bool record_params = false;
  // Replace literals with `?` before recording (default false).
  bool sanitize_statements = false;
  // Longer statement texts are cut and marked (default 8192 bytes).
  std::size_t max_statement_length = 8192;
  // Fraction of the traces dbtrace starts itself that are recorded (default 1.0).
  double sample_rate = 1.0;
  // Append a traceparent comment to statements sent to the server (default false).
  bool sqlcommenter = false;
  // Records the hot path may buffer before dropping (default 65536; ~128 bytes each).
  std::size_t queue_size = 65536;
};

// Reads the `[profiler]` section of an INI file, then applies DBTRACE_<KEY>
// environment overrides. Other sections are ignored, so an OpenStack service's
// config file works as is. Throws dbtrace::config_error naming the file, line
// and key of the first bad entry (unknown key, bad value, unreadable file).
options load_options(const std::string& path);

// Applies DBTRACE_<KEY> environment overrides to `base`. Throws config_error
// naming the variable when a value is bad.
options apply_environment(options base);

// Sets one key from its text form, as a config file would. Throws config_error
// (with `where` as the location) for an unknown key or a bad value.
void set_option(options& o, const std::string& key, const std::string& value,
                const std::string& where);

}  // namespace dbtrace
