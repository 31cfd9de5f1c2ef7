// SPDX-License-Identifier: Apache-2.0
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

// The tracestate header to pass on, by the W3C rules: comma-separated
// `key=value` members (key: lowercase letters, digits, `_-*/`, optionally
// `tenant@system`, at most 256 characters; value: printable ASCII without `,`
// and `=`, at most 256), at most 32 of them. A header with a member that breaks
// these rules (a CR or LF, say) is not passed on at all; members past 512
// characters in total are cut from the end. `changed` tells whether anything
// was dropped or cut. Never throws.
std::string clean_tracestate(std::string_view header, bool& changed) noexcept;

// "00-<base_id hex>-<low 64 bits of parent_id>-<01|00>"; empty for ids that are not UUIDs.
std::string format_traceparent(const std::string& base_id, const std::string& parent_id,
                               bool sampled = true);

}  // namespace dbtrace
