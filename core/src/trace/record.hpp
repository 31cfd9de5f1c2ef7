// SPDX-License-Identifier: Apache-2.0
// What the hot path hands to the exporter thread: one fixed-size, trivially
// copyable record per span (or generic span phase). Anything variable-length
// lives in `extra`, which the record owns (the exporter, or whoever drops the
// record, deletes it).
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "config/statement_text.hpp"
#include "dbtrace/detail/id128.hpp"
#include "dbtrace/driver.hpp"

namespace dbtrace::detail {

enum class record_kind : std::uint8_t { sql, span_start, span_stop };

// Rare, variable-length parts of a record.
struct record_extra {
  std::string name;     // span name (span_start/span_stop)
  nlohmann::json info;  // generic span info (both phases carry it: a store may write either)
  // A SQL text that was not interned: the application's thread copies it into
  // `unprepared` (no more than max_statement_length of it, so a huge statement
  // costs the queue no more than one that fits), and the exporter prepares it
  // into `statement` (prepare_deferred).
  std::string unprepared;
  std::size_t unprepared_size = 0;              // the whole text's
  sql_dialect dialect = sql_dialect::standard;  // how `unprepared` reads
  statement_info statement;
  nlohmann::json params;  // bound values, when record_params
  span_error error;
  bool failed = false;
  std::size_t bytes = 0;  // what it takes, counted against queue_bytes while queued
};

struct record {
  record_kind kind;
  id128 base_id, trace_id, parent_id;  // trace_id zero: drawn by the exporter
  // span_clock() readings on the application's thread; the exporter makes
  // them wall-clock ns since the epoch, the end never before the start.
  std::int64_t start_ns;
  std::int64_t end_ns;              // 0 for span_start
  const statement_info* statement;  // interned, or null (then extra->statement)
  const target_info* target;
  std::int64_t rows;   // -1: unknown
  std::int64_t batch;  // 0: not a bulk execution
  record_extra* extra;
};
static_assert(std::is_trivially_copyable_v<record>);

// OSProfiler events a record stands for (a SQL span is a start and a stop):
// the unit of dbtrace::stats().
inline std::uint64_t event_count(const record& r) noexcept {
  return r.kind == record_kind::sql ? 2 : 1;
}

// The statement of a SQL span whose text is unknown (prepared while tracing was off).
inline const statement_info& unknown_statement() noexcept {
  static const statement_info none{0, "", "\"\"", "", "", "", ""};
  return none;
}

// The view a writer gets of a record; valid while the record and its extra live.
inline span_view view_of(const record& r) noexcept {
  span_view v;
  v.phase = r.kind == record_kind::sql          ? span_phase::whole
            : r.kind == record_kind::span_start ? span_phase::started
                                                : span_phase::finished;
  v.base_id = r.base_id;
  v.id = r.trace_id;
  v.parent_id = r.parent_id;
  v.start_ns = r.start_ns;
  v.end_ns = r.end_ns;
  v.target = r.target;
  v.rows = r.rows;
  v.batch = r.batch;
  const record_extra* x = r.extra;
  if (r.kind == record_kind::sql) {
    v.name = "db";
    v.statement = r.statement                            ? r.statement
                  : x && !x->statement.json_text.empty() ? &x->statement
                                                         : &unknown_statement();
  } else if (x) {
    v.name = x->name;
    if (x->info.is_object()) v.info = &x->info;
  }
  if (x) {
    if (x->failed) v.error = &x->error;
    if (x->params.is_array()) v.params = &x->params;
  }
  return v;
}

}  // namespace dbtrace::detail
