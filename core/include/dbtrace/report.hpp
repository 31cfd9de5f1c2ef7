// The trace report of `osprofiler trace show --json`, built from stored events,
// and the text renderings the CLI prints. Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dbtrace/driver.hpp"

namespace dbtrace {

// OSProfiler's report shape: {"info": {"name": "total", ...}, "children": [...], "stats": {...}}.
// Times are whole milliseconds from the trace's first event, truncated as OSProfiler does.
nlohmann::ordered_json build_report(const std::vector<stored_event>& events);

// An indented tree, one line per span: start and duration in milliseconds with
// microsecond precision, the statement of db spans, the error if any.
std::string render_tree(const std::vector<stored_event>& events);

}  // namespace dbtrace
