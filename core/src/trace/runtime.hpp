// SPDX-License-Identifier: Apache-2.0
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
  // The base id as it came in (headers, a context); empty for a trace started
  // here, whose text is formatted only when asked for (current_context).
  std::string base_id_text;
  std::vector<id128> stack;
  std::string tracestate;       // W3C tracestate received, passed on unchanged
  const void* owner = nullptr;  // the trace that made this context current (its saved state)
};
// This thread's context, made on first use. After a first call it is one
// %fs-relative load (t_context, initial-exec), not a thread_local's
// __tls_get_addr call and init guard.
extern __thread thread_context* t_context __attribute__((tls_model("initial-exec")));
thread_context& make_thread_context() noexcept;
inline thread_context& this_thread() noexcept {
  if (__builtin_expect(t_context != nullptr, 1)) return *t_context;
  return make_thread_context();
}

// What the per-statement path reads and writes of this thread: its trace,
// kept in step with thread_context by the trace and span code (sync_hot), and
// its producer on the exporter's queue (pipeline.cpp). Trivial and
// initial-exec, so reading it is one %fs-relative load: no init guard, no
// __tls_get_addr. (The model needs a little static TLS, which glibc reserves
// even for libraries loaded with dlopen.) One cache line: a statement's work
// in the database evicts it, and the next statement then reloads one line,
// not three.
struct alignas(64) hot_context {
  bool active;
  bool producer_gone;  // the thread is exiting: no producer token any more
  // The thread's thread_context is destroyed (thread exit, or exit() in the
  // main thread, whose thread_locals go before static objects): a trace that
  // ends later (a static one) touches nothing.
  bool context_gone;
  std::uint64_t base_hi, base_lo;
  std::uint64_t parent_hi, parent_lo;  // the innermost span: thread_context::stack.back()
  sql_span* open_spans;                // SQL spans kept open on this thread (a list)
  const void* producer_queue;          // the queue `producer_token` belongs to
  void* producer_token;                // a moodycamel::ProducerToken, or null
};
static_assert(sizeof(hot_context) == 64);
extern __thread hot_context t_hot __attribute__((tls_model("initial-exec")));

// Copies what the hot path needs from `t` (this thread's context) after it changed.
void sync_hot(const thread_context& t) noexcept;

// (detail::close_open_sql_spans, declared in dbtrace/sql.hpp, finishes the SQL
// spans this thread keeps open when a span or trace ends.)

}  // namespace dbtrace::detail
