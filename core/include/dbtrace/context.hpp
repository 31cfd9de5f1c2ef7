// SPDX-License-Identifier: Apache-2.0
// Trace context: the per-thread stack of OSProfiler ids, traces, spans and propagation.
// Thread safety: every object here belongs to the thread that created it; a
// dbtrace::context value may be copied to another thread and attached there.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "dbtrace/value.hpp"

namespace dbtrace {
namespace detail {
struct id128;
}

// Header names compare case-insensitively, as HTTP does.
struct header_name_less {
  bool operator()(const std::string& a, const std::string& b) const noexcept;
};
using headers = std::map<std::string, std::string, header_name_less>;

// Why a trace was or was not continued from incoming headers.
enum class context_status {
  new_trace,         // dbtrace::trace{} started a trace of its own
  continued,         // signed X-Trace-* headers verified with one of hmac_keys
  no_context,        // no X-Trace-Info / X-Trace-HMAC in the headers: a new trace
  unsigned_context,  // X-Trace-Info without X-Trace-HMAC: not trusted, a new trace
  bad_signature,     // HMAC matches none of hmac_keys (tampered, wrong key): a new trace
  malformed,         // not base64, not JSON, missing base_id, extra keys: a new trace
  not_sampled,       // sample_rate decided against recording this trace
  disabled,          // tracing is off: nothing is recorded
};
const char* to_string(context_status s) noexcept;

// The ids needed to continue a trace elsewhere (another thread or process).
struct context {
  std::string base_id;     // the trace's id, empty when no trace is active
  std::string parent_id;   // the element new spans hang under
  std::string tracestate;  // W3C tracestate received with the trace, passed on
  bool valid() const noexcept { return !base_id.empty(); }
};

// The trace active on this thread, or an invalid context.
context current_context();

// Activates a trace on this thread for its lifetime (= osprofiler profiler.init).
// The previous thread state comes back when it is destroyed, on this thread
// (to continue a trace on another thread, capture current_context() and open
// a trace{context} there). Traces ended out of order are handled: an outer
// one ended first leaves the inner one current until it ends.
class trace {
 public:
  trace();  // a new trace (subject to sample_rate)
  // Continues signed X-Trace-* headers (they win), else a W3C traceparent
  // (with its tracestate and sampled flag), else starts a new trace.
  explicit trace(const headers& incoming);
  explicit trace(const context& parent);  // continues a context captured in this process
  ~trace();
  trace(const trace&) = delete;
  trace& operator=(const trace&) = delete;

  // Empty when nothing is recorded (tracing off or not sampled).
  const std::string& base_id() const noexcept;
  bool active() const noexcept;
  context_status status() const noexcept { return status_; }

  // What a trace saves of the thread's state (the implementation's; named
  // here so that a thread can keep one for its next trace).
  struct saved_state;

 private:
  // Makes this thread run under the ids; false (and an inactive trace) when they are not UUIDs.
  bool activate(const std::string& base_id, const std::string& parent_id,
                std::string tracestate = {});
  // The same with the ids parsed, {base, parent} (a new trace's are never
  // formatted and parsed back: its `base_id` is empty); null for an inactive trace.
  void activate(const detail::id128* ids, const std::string& base_id, std::string tracestate);
  std::unique_ptr<saved_state> saved_;
  context_status status_;
};

// Runs the current thread under `ctx` (e.g. a worker handling part of a
// request) until destroyed; spans made meanwhile are children of ctx.parent_id.
class attach {
 public:
  explicit attach(const context& ctx) : trace_(ctx) {}

 private:
  trace trace_;
};

// A traced region (= osprofiler profiler.Trace): `<name>-start` now, `<name>-stop`
// when destroyed. Inert outside an active trace. Never throws.
class span {
 public:
  // `info`: an object of the span's details ({{"function", "load_user"}}); any
  // other value is recorded as {"value": info}.
  explicit span(std::string name, value info = value::object()) noexcept;
  ~span();
  span(const span&) = delete;
  span& operator=(const span&) = delete;

  // Records the error on the stop event (etype, message). Without a call, a span
  // left by an exception records etype "exception" (C++ cannot see it from a destructor).
  void set_error(std::string etype, std::string message) noexcept;
  void set_error(const std::exception& e) noexcept;  // etype = the exception's type name

 private:
  struct state;
  std::unique_ptr<state> state_;
};

// Headers that continue the active trace in another service: X-Trace-Info and
// X-Trace-HMAC signed with the first of hmac_keys, traceparent, and the
// tracestate received, if any. Empty when no trace is active.
headers outgoing_headers();

}  // namespace dbtrace
