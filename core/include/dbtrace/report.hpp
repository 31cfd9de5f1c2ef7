// SPDX-License-Identifier: Apache-2.0
// Stored traces read back: spans assembled from their events, OSProfiler's
// report, and the renderings the CLI prints (tree, DOT, Chrome trace events,
// an OTLP file, the viewer's data). Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dbtrace/driver.hpp"

namespace dbtrace {

// One span of a stored trace, from its start and stop events.
struct trace_span {
  std::string id, parent_id, name;  // name as OSProfiler shows it ("db", "wsgi")
  std::optional<std::string> project, service, host;
  std::int64_t start_us = 0,
               end_us = 0;  // µs since the epoch; a missing event takes the other's time
  bool has_start = false, has_stop = false;
  std::size_t parent = npos;          // index into stored_trace::spans, npos for a root
  std::vector<std::size_t> children;  // ordered by start time
  std::size_t depth = 0;

  // SQL spans (a start event with info.db.statement).
  bool is_sql = false;
  std::string statement;
  nlohmann::ordered_json params;  // null unless recorded
  std::optional<std::int64_t> rows, batch_size, server_port;
  std::string system, name_space, server_address, operation, collection, summary;

  // The outcome; etype empty when the span did not fail.
  std::string etype, message, sqlstate;

  nlohmann::ordered_json info;  // a generic span's info, as the application passed it
  nlohmann::ordered_json raw;   // {"db-start": payload, "db-stop": payload}

  std::int64_t duration_us() const { return end_us - start_us; }
  bool failed() const { return !etype.empty(); }

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

struct stored_trace {
  std::string base_id;
  std::vector<trace_span> spans;  // depth first, siblings by start time
  std::vector<std::size_t> roots;
  std::int64_t started_us = 0, finished_us = 0;  // first and last event
  std::int64_t last_started_us = 0;              // the last start: where a hung request stopped
  std::size_t sql_count = 0, error_count = 0;

  std::int64_t duration_us() const { return finished_us - started_us; }
};

// Links events into spans. Events with an unreadable timestamp are skipped; a
// parent chain that loops or runs deeper than 1000 is cut into roots.
stored_trace assemble_trace(const std::vector<stored_event>& events);

// OSProfiler's report shape: {"info": {"name": "total", ...}, "children": [...], "stats": {...}}.
// Times are whole milliseconds from the trace's first event, truncated as OSProfiler does.
nlohmann::ordered_json build_report(const std::vector<stored_event>& events);

// The events inside a report of build_report() or `osprofiler trace show
// --json` (its meta.raw_payload.* entries). Throws std::invalid_argument when
// `report` is not one.
std::vector<stored_event> events_from_report(const nlohmann::ordered_json& report);

struct tree_options {
  bool colour = false;               // ANSI colours (a terminal)
  std::int64_t min_duration_us = 0;  // spans faster than this are left out, with their children
};

// An indented tree, one line per span: start and duration in milliseconds with
// microsecond precision, the statement, rows, params and info, the error.
std::string render_tree(const stored_trace& trace, const tree_options& o = {});

// Graphviz DOT, labelled as OSProfiler's --dot: "service:name - N ms".
std::string render_dot(const stored_trace& trace);

// Chrome trace-event JSON (Perfetto UI, chrome://tracing): one process per
// service; spans that do not nest in their process become async events.
std::string render_chrome(const stored_trace& trace);

// The trace as one OTLP/JSON ExportTraceServiceRequest, with the ids and
// attributes the OTLP exporter sends.
std::string render_otlp(const stored_trace& trace);

// The data the HTML viewer draws: times in µs from the trace's start.
nlohmann::json viewer_data(const stored_trace& trace);

}  // namespace dbtrace
