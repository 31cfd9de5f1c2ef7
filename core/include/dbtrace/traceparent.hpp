// W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/) and
// its mapping to OSProfiler ids, as OSProfiler's own OTLP driver maps them:
// trace-id = the 128 bits of base_id; parent-id = the low 64 bits of the
// element's UUID, which comes back as 00000000-0000-0000-PPPP-PPPPPPPPPPPP.
// Thread safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace dbtrace {

struct w3c_context {
  std::string base_id;    // the trace-id as a UUID
  std::string parent_id;  // the parent-id in the low 64 bits of a UUID
  bool sampled = true;    // trace-flags bit 0
};

// Parses a traceparent header by the W3C rules: lowercase hex only; version ff
// invalid; all-zero trace-id or parent-id invalid; version 00 exactly 55
// characters; a higher version is read by its first 55 characters, which must
// be followed by '-' or nothing. nullopt when invalid. Never throws.
std::optional<w3c_context> parse_traceparent(std::string_view header) noexcept;

// "00-<base_id hex>-<low 64 bits of parent_id>-<01|00>"; empty for ids that are not UUIDs.
std::string format_traceparent(const std::string& base_id, const std::string& parent_id,
                               bool sampled = true);

}  // namespace dbtrace
