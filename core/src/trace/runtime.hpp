// Process-wide recorder state shared by the hot-path sources (context.cpp,
// sql.cpp) and init/shutdown (runtime.cpp). Private to core.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "clock.hpp"
#include "dbtrace/context.hpp"
#include "dbtrace/options.hpp"
#include "record.hpp"

namespace dbtrace::detail {

// Set by init, cleared by shutdown; read with relaxed loads on the hot path.
// (g_sql, tracing on and trace_sql, is declared in dbtrace/sql.hpp for the inline fast path.)
extern std::atomic<bool> g_enabled;  // tracing on

// The options in force. Written only by init/shutdown.
const options& current() noexcept;

// Hands a record to the exporter; when the queue is full, drops it, deletes
// its extra and counts the drop. Never blocks or throws.
void push(record& r) noexcept;

// Counts an incoming context that was not trusted.
void count_rejected_context() noexcept;

// The per-thread trace stack, OSProfiler's `[base_id, parent_id or base_id, ...]`.
struct thread_context {
  bool active = false;
  id128 base_id;
  std::string base_id_text;
  std::vector<id128> stack;
  std::string tracestate;  // W3C tracestate received, passed on unchanged
};
thread_context& this_thread() noexcept;

// (detail::close_open_sql_spans, declared in dbtrace/sql.hpp, finishes the SQL
// spans this thread keeps open when a span or trace ends.)


}  // namespace dbtrace::detail
