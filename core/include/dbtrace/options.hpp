// SPDX-License-Identifier: Apache-2.0
// dbtrace::options — what a `[profiler]` config section (or DBTRACE_* variables) can set.
// Thread safety: plain values; load_options may be called from any thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace dbtrace {

// The largest queue_size: 1,048,576 spans (about 2 s at 500k statements/s,
// ~128 MB taken at init). A larger value is refused, not cut.
inline constexpr std::size_t max_queue_size = std::size_t{1} << 20;

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
  // With record_params: longer bound values (strings, blobs) are cut and
  // marked (default 1024 bytes).
  std::size_t max_param_length = 1024;
  // Fraction of the traces dbtrace starts itself that are recorded (default 1.0).
  double sample_rate = 1.0;
  // Append a traceparent comment to statements sent to the server (default false).
  bool sqlcommenter = false;
  // Spans the hot path may buffer before dropping (default 65536, at most
  // max_queue_size; the queue's memory, ~128 bytes a span, is taken at init,
  // and with many recording threads it may grow to about twice that: each
  // keeps up to ~0.5 MB of it for its own pushes).
  std::size_t queue_size = 65536;
  // What the queued spans' variable-length parts (texts not interned, bound
  // values, errors, a generic span's info) may take before spans are dropped
  // and counted as with a full queue (default 64 MiB, at least 1 MiB).
  std::size_t queue_bytes = std::size_t{64} << 20;
  // flush() and shutdown() called without a deadline wait at most this long,
  // in seconds (defaults 30 and 5).
  double flush_timeout = 30;
  double shutdown_timeout = 5;

  // The OTLP exporter (connection_string otlp://host:port). OpenTelemetry's
  // OTEL_EXPORTER_OTLP_* variables, when set, win over these, as in the SDKs.
  // The collector's base URL (http:// or https://; /v1/traces is appended).
  // Empty: http:// and the connection string's host and port.
  std::string otlp_endpoint;
  // http/protobuf (default) or http/json.
  std::string otlp_protocol = "http/protobuf";
  // Extra request headers, "name=value,name2=value2" (values percent-decoded);
  // typically an API key. Never written to a log line.
  std::string otlp_headers;
  // Each request's timeout, in milliseconds (default 10000).
  std::size_t otlp_timeout = 10000;
  // none (default) or gzip.
  std::string otlp_compression = "none";
  // https: a PEM file of the CA certificates to trust (default: the system's),
  // and for mutual TLS the client's certificate and key (PEM files).
  std::string otlp_certificate;
  std::string otlp_client_certificate;
  std::string otlp_client_key;
};

// Reads the `[profiler]` section of an INI file as oslo.config reads it (lines
// of any length, indented continuation lines joined with newlines, comments on
// lines of their own), then applies DBTRACE_<KEY> environment overrides. Other
// sections are never judged, so an OpenStack service's config file works as
// is. Throws dbtrace::config_error naming the file, line and key of the first
// bad entry (unknown key, with the nearest known one; bad value; unreadable
// file; a near-miss section such as [profilers] where [profiler] is missing).
options load_options(const std::string& path);

// Several files, as oslo.config's `--config-file a --config-file b
// --config-dir d` reads them: the files in order, then d's *.conf files in
// name order, a key in a later file overriding an earlier one.
options load_options(const std::vector<std::string>& config_files,
                     const std::string& config_dir = {});

// Applies DBTRACE_<KEY> environment overrides to `base`. Throws config_error
// naming the variable when a value is bad.
options apply_environment(options base);

// Sets one key from its text form, as a config file would. Throws config_error
// (with `where` as the location) for an unknown key or a bad value.
void set_option(options& o, const std::string& key, const std::string& value,
                const std::string& where);

}  // namespace dbtrace
