// What the hot path hands to the exporter thread: one fixed-size, trivially
// copyable record per event source. Anything variable-length lives in `extra`,
// which the record owns (the exporter, or whoever drops the record, deletes it).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "dbtrace/detail/id128.hpp"
#include "dbtrace/sql.hpp"

namespace dbtrace::detail {

// A statement as recorded: computed once when interned, immutable afterwards.
struct interned_statement {
  std::string text;             // truncated / sanitized, as it appears in spans
  std::string json_text;        // `text` as a JSON string literal, escaped once
  std::string operation;        // db.operation.name ("SELECT"), may be empty
  std::string json_attributes;  // `, "db.operation.name": "SELECT"`, rendered once
};

// A connection's target with its db-start attributes pre-rendered.
struct interned_target {
  db_target target;
  std::string json_attributes;  // `, "db.system.name": "sqlite", ...` (leading comma)
};

enum class record_kind : std::uint8_t { sql, span_start, span_stop };

// Rare, variable-length parts of a record.
struct record_extra {
  std::string name;       // span name (span_start/span_stop)
  nlohmann::json info;    // span_start info
  std::string statement;  // SQL text that was not interned (already truncated)
  nlohmann::json params;  // bound values, when record_params
  std::string etype, message, sqlstate, category;
  bool failed = false;
};

struct record {
  record_kind kind;
  id128 base_id, trace_id, parent_id;
  std::int64_t start_ns;  // wall clock, ns since the epoch
  std::int64_t end_ns;
  const interned_statement* statement;
  const interned_target* target;
  std::int64_t rows;   // -1: unknown
  std::int64_t batch;  // 0: not a bulk execution
  record_extra* extra;
};
static_assert(std::is_trivially_copyable_v<record>);

// Events a record turns into (a SQL span is a start and a stop).
inline std::uint64_t event_count(const record& r) noexcept {
  return r.kind == record_kind::sql ? 2 : 1;
}

}  // namespace dbtrace::detail
