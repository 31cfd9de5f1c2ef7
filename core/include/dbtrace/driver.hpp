// The driver interface: what stores or exports events, and reads them back.
//
// Threads: the pipeline calls write/flush/shutdown from its one exporter thread,
// never concurrently on one instance; a driver needs no locks and knows nothing
// about threads. Read-back (list_traces, read_trace) is for the CLI and tests,
// on a driver instance of their own.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace dbtrace {

// One OSProfiler event, with its columns split out and `info` pre-rendered.
struct event {
  std::string name;  // "db-start", "db-stop", "rpc-start", ...
  std::string base_id;
  std::string trace_id;
  std::string parent_id;
  std::string timestamp;  // naive UTC, %Y-%m-%dT%H:%M:%S.%f
  std::string project;
  std::string service;
  std::string host;
  std::string info_json;  // the JSON text of the `info` object
  bool error = false;     // a stop event that carries an etype
};

// The whole event as OSProfiler writes it (key order name, base_id, trace_id,
// parent_id, timestamp, info, project, service; Python json.dumps spacing).
std::string event_json(const event& e);
void append_event_json(std::string& out, const event& e);
// What SQL stores keep in their `data` column: the event without its columns.
std::string event_payload_json(const event& e);

// How a write went, and what the pipeline does next.
enum class write_result {
  ok,        // written: count as exported
  retry,     // transient (backend down, busy): back off, then send the same batch again
  rejected,  // permanent for this batch (bad data, refused): drop it and count as dropped
};

// An event read back from a store, in the shape the report needs.
struct stored_event {
  std::string name, base_id, trace_id, parent_id, timestamp;
  // SQL stores may hold NULL here (OSProfiler's notifier without a host, say),
  // which reports show as null.
  std::optional<std::string> project, service, host;
  nlohmann::ordered_json raw;  // the payload as the store holds it (meta.raw_payload.*)
};

// A stored event from its whole OSProfiler JSON (the stores that keep events
// whole: Redis, JSON lines); `host` comes from info.host, as OSProfiler reads it.
stored_event stored_event_from_json(nlohmann::ordered_json event);

struct trace_summary {
  std::string base_id;
  std::string timestamp;  // the trace's first event
};

class driver {
 public:
  driver() = default;
  driver(const driver&) = delete;
  driver& operator=(const driver&) = delete;
  virtual ~driver() = default;

  // Writes a batch; connects lazily. Never throws. `error` receives a one-line
  // reason when the result is not ok.
  virtual write_result write(const std::vector<event>& batch, std::string& error) noexcept = 0;
  // Makes written events durable/visible (fsync, fflush); default: nothing to do.
  virtual bool flush() noexcept { return true; }

  // Read-back; throws store_error when the store cannot be read.
  virtual std::vector<trace_summary> list_traces(bool errors_only) = 0;
  // All events of one trace, in stored order; empty when the trace is unknown.
  virtual std::vector<stored_event> read_trace(const std::string& base_id) = 0;
};

// Opens the driver for a connection string (sqlite://, file://, memory://, and
// those built in: postgresql://, redis://, otlp://). `host` is written in the
// stores' host column. Throws config_error for an unknown or unbuilt scheme;
// never connects (drivers connect on first use).
// `filter_error_trace` indexes traces with errors (the Redis store);
// `project` / `service` name the OTLP resource.
std::unique_ptr<driver> make_driver(const std::string& connection_string, const std::string& host,
                                    bool filter_error_trace = false,
                                    const std::string& project = {},
                                    const std::string& service = {});

struct options;
// init() with a driver of the caller's (a custom store, or a test double)
// instead of the one o.connection_string names.
void init(const options& o, std::unique_ptr<driver> d);

// The connection string with any password replaced by `***`, for messages.
std::string redact_connection_string(const std::string& connection_string);

}  // namespace dbtrace
