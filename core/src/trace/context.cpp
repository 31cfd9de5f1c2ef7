// SPDX-License-Identifier: Apache-2.0
// Traces, spans and propagation on top of the per-thread OSProfiler id stack.
#include "dbtrace/context.hpp"

#include <strings.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <exception>
#include <random>
#include <typeinfo>

#include "dbtrace/signing.hpp"
#include "dbtrace/traceparent.hpp"
#include "ids.hpp"
#include "runtime.hpp"
#include "value_json.hpp"

namespace dbtrace {

bool header_name_less::operator()(const std::string& a, const std::string& b) const noexcept {
  return strcasecmp(a.c_str(), b.c_str()) < 0;
}

const char* to_string(context_status s) noexcept {
  switch (s) {
    case context_status::new_trace:
      return "new_trace";
    case context_status::continued:
      return "continued";
    case context_status::no_context:
      return "no_context";
    case context_status::unsigned_context:
      return "unsigned_context";
    case context_status::bad_signature:
      return "bad_signature";
    case context_status::malformed:
      return "malformed";
    case context_status::not_sampled:
      return "not_sampled";
    case context_status::disabled:
      return "disabled";
  }
  return "unknown";
}

namespace detail {
namespace {
void free_spare_state() noexcept;
}

__thread thread_context* t_context __attribute__((tls_model("initial-exec")));

[[gnu::noinline, gnu::cold]] thread_context& make_thread_context() noexcept {
  struct owned_context {
    thread_context ctx;
    ~owned_context() {
      t_hot.context_gone = true;
      t_hot.active = false;
      free_spare_state();
    }
  };
  thread_local owned_context owned;
  t_context = &owned.ctx;
  return owned.ctx;
}

__thread hot_context t_hot __attribute__((tls_model("initial-exec")));

void sync_hot(const thread_context& t) noexcept {
  t_hot.active = t.active && !t.stack.empty();
  t_hot.base_hi = t.base_id.hi;
  t_hot.base_lo = t.base_id.lo;
  const id128 parent = t.stack.empty() ? id128{} : t.stack.back();
  t_hot.parent_hi = parent.hi;
  t_hot.parent_lo = parent.lo;
}
}  // namespace detail

namespace {

bool sampled() {
  const double rate = detail::current().sample_rate;
  if (rate >= 1.0) return true;
  if (rate <= 0.0) return false;
  // The top 53 bits as a double in [0, 1), from the thread's id generator.
  return static_cast<double>(detail::random_u64() >> 11) * 0x1.0p-53 < rate;
}

// A wrong hmac_keys splits every trace in two with no other sign: said once
// per init() (no key, header or id in it; the rest are counted). Each init()
// publishes options of its own, so a reload with other keys says it again.
void say_bad_signature_once() noexcept {
  static std::atomic<const options*> said_for{nullptr};
  const options* in_force = &detail::current();
  if (said_for.exchange(in_force, std::memory_order_relaxed) == in_force) return;
  std::fputs(
      "dbtrace: an incoming X-Trace-HMAC matches none of hmac_keys (the caller signs with "
      "another key, or the header was changed): its request starts a new trace; said once "
      "until the next init(), "
      "each one counted in stats().rejected_contexts\n",
      stderr);
}

}  // namespace

context current_context() {
  if (detail::t_hot.context_gone) return {};  // asked as the thread exits: no trace
  const auto& t = detail::this_thread();
  if (!t.active) return {};
  return {t.base_id_text.empty() ? detail::to_string(t.base_id) : t.base_id_text,
          detail::to_string(t.stack.back()), t.tracestate};
}

struct trace::saved_state {
  detail::thread_context previous;
  bool active = false;  // this trace's own ids were valid: it records
  detail::id128 base;   // its own, also while a trace inside it is active
  std::string base_id;  // `base` as text: as it came in, or formatted when first asked
};

namespace detail {
namespace {
// One saved state a thread keeps from its last trace, cleared but with its
// strings' and stack's memory: a trace then allocates nothing.
__thread void* t_spare_state __attribute__((tls_model("initial-exec")));

void free_spare_state() noexcept {
  delete static_cast<trace::saved_state*>(t_spare_state);
  t_spare_state = nullptr;
}
}  // namespace
}  // namespace detail

trace::trace() : status_(context_status::disabled) {
  if (!detail::g_enabled.load(std::memory_order_relaxed)) return;
  if (!sampled()) {
    status_ = context_status::not_sampled;
    activate({}, {});  // a trace that records nothing, hiding any outer one
    return;
  }
  status_ = context_status::new_trace;
  const auto id = detail::new_uuid4();
  const detail::id128 ids[] = {id, id};
  activate(ids, {}, {});  // its text is formatted only if asked for
}

trace::trace(const headers& incoming) : status_(context_status::disabled) {
  if (!detail::g_enabled.load(std::memory_order_relaxed)) return;
  const auto info = incoming.find("X-Trace-Info");
  const auto hmac = incoming.find("X-Trace-HMAC");
  context_status why = context_status::no_context;
  if (info != incoming.end() && hmac == incoming.end()) why = context_status::unsigned_context;
  const auto state = incoming.find("tracestate");
  bool state_changed = false;
  std::string tracestate =
      state == incoming.end() ? std::string() : clean_tracestate(state->second, state_changed);
  if (state_changed) detail::count_rejected_context();  // dropped or cut: counted, never silent
  if (info != incoming.end() && hmac != incoming.end()) {
    const auto v = verify_context(info->second, hmac->second, detail::current().hmac_keys);
    if (v.status == context_status::continued) {
      status_ = context_status::continued;
      activate(v.ids.base_id, v.ids.parent_id, std::move(tracestate));
      return;
    }
    why = v.status;
  }
  if (why != context_status::no_context) detail::count_rejected_context();
  if (why == context_status::bad_signature) say_bad_signature_once();
  if (const auto tp = incoming.find("traceparent"); tp != incoming.end()) {
    if (const auto w3c = parse_traceparent(tp->second)) {
      status_ = w3c->sampled ? context_status::continued : context_status::not_sampled;
      if (w3c->sampled)
        activate(w3c->base_id, w3c->parent_id, std::move(tracestate));
      else
        activate({}, {});  // the caller decided: record nothing, hide any outer trace
      return;
    }
    if (why == context_status::no_context) {
      why = context_status::malformed;
      detail::count_rejected_context();
    }
  }
  const bool keep = sampled();
  status_ = keep ? why : context_status::not_sampled;
  if (keep) {
    const auto id = detail::new_uuid4();
    const detail::id128 ids[] = {id, id};
    activate(ids, {}, {});
  } else {
    activate({}, {});
  }
}

trace::trace(const context& parent) : status_(context_status::disabled) {
  if (!detail::g_enabled.load(std::memory_order_relaxed)) return;
  if (!parent.valid()) {
    status_ = context_status::no_context;
    activate({}, {});
    return;
  }
  // Ids that are not UUIDs continue nothing: a new, inactive trace, counted.
  status_ = activate(parent.base_id, parent.parent_id, parent.tracestate)
                ? context_status::continued
                : context_status::malformed;
  if (status_ == context_status::malformed) detail::count_rejected_context();
}

bool trace::activate(const std::string& base_id, const std::string& parent_id,
                     std::string tracestate) {
  const auto base = detail::parse_uuid(base_id);
  const auto parent = detail::parse_uuid(parent_id);
  if (!base || !parent) {
    activate(nullptr, {}, {});
    return false;
  }
  const detail::id128 ids[] = {*base, *parent};
  activate(ids, base_id, std::move(tracestate));
  return true;
}

void trace::activate(const detail::id128* ids, const std::string& base_id, std::string tracestate) {
  if (detail::t_hot.context_gone) return;  // made as the thread exits: records nothing
  auto& t = detail::this_thread();
  if (detail::t_spare_state) {
    saved_.reset(static_cast<saved_state*>(detail::t_spare_state));
    detail::t_spare_state = nullptr;
  } else {
    saved_ = std::make_unique<saved_state>();
  }
  // The thread's context is saved, and the spare's cleared one takes its place.
  std::swap(saved_->previous, t);
  t.owner = saved_.get();
  if (!ids) {  // inactive: records nothing, and hides any outer trace
    detail::sync_hot(t);
    return;
  }
  t.active = true;
  t.base_id = ids[0];
  t.base_id_text = base_id;
  t.stack.assign({ids[0], ids[1]});
  t.tracestate = std::move(tracestate);
  detail::sync_hot(t);
  saved_->active = true;
  saved_->base = ids[0];
  saved_->base_id = base_id;
}

trace::~trace() {
  if (!saved_ || detail::t_hot.context_gone) return;
  auto& t = detail::this_thread();
  if (t.owner == saved_.get()) {  // the innermost trace, as usual: what it hid comes back
    detail::close_open_sql_spans();
    std::swap(t, saved_->previous);
    detail::sync_hot(t);
    if (detail::t_spare_state) return;
    // Kept for the thread's next trace, emptied: nothing of this one stays.
    auto& mine = saved_->previous;
    mine.active = false;
    mine.base_id = {};
    mine.base_id_text.clear();
    mine.stack.clear();
    mine.tracestate.clear();
    mine.owner = nullptr;
    saved_->active = false;
    saved_->base_id.clear();
    detail::t_spare_state = saved_.release();
    return;
  }
  // Ended before a trace inside it (destroyed out of order): the inner one
  // keeps running, and will bring back what this one hid, not this one.
  for (auto* inner = static_cast<saved_state*>(const_cast<void*>(t.owner)); inner;
       inner = static_cast<saved_state*>(const_cast<void*>(inner->previous.owner)))
    if (inner->previous.owner == saved_.get()) {
      inner->previous = std::move(saved_->previous);
      return;
    }
  // Not on this thread's chain (ended on another thread): nothing here to undo.
}

const std::string& trace::base_id() const noexcept {
  static const std::string none;
  if (!saved_ || !saved_->active) return none;
  if (saved_->base_id.empty()) {  // a trace started here: formatted now, once
    try {
      saved_->base_id = detail::to_string(saved_->base);
    } catch (...) {
      return none;
    }
  }
  return saved_->base_id;
}

bool trace::active() const noexcept {
  return saved_ && saved_->active;
}

struct span::state {
  std::string name;
  nlohmann::json info;  // sent again with the stop: stores that keep whole spans write it then
  std::int64_t start_ns;
  detail::id128 base_id, trace_id, parent_id;
  int exceptions_at_start;
  std::string etype, message;
};

span::span(std::string name, value given_info) noexcept {
  if (detail::t_hot.context_gone) return;  // made as the thread exits: records nothing
  auto& t = detail::this_thread();
  if (!t.active || !detail::g_enabled.load(std::memory_order_relaxed)) return;
  try {
    auto s = std::make_unique<state>();
    s->name = std::move(name);
    s->base_id = t.base_id;
    s->trace_id = detail::new_span_id(t.base_id);
    s->parent_id = t.stack.back();
    s->exceptions_at_start = std::uncaught_exceptions();
    nlohmann::json info = detail::to_json(given_info);
    s->info = info.is_object() ? std::move(info) : nlohmann::json{{"value", std::move(info)}};
    s->start_ns = detail::span_clock();
    auto* extra = new detail::record_extra;
    extra->name = s->name;
    extra->info = s->info;
    detail::record r{detail::record_kind::span_start,
                     t.base_id,
                     s->trace_id,
                     t.stack.back(),
                     s->start_ns,
                     0,
                     nullptr,
                     nullptr,
                     -1,
                     0,
                     extra};
    t.stack.push_back(s->trace_id);
    detail::sync_hot(t);
    state_ = std::move(s);
    detail::push(r);
  } catch (...) {
    state_.reset();  // out of memory: this span is not recorded
    detail::count_lost_detail("a span");
  }
}

void span::set_error(std::string etype, std::string message) noexcept {
  if (!state_) return;
  state_->etype = std::move(etype);
  state_->message = std::move(message);
}

void span::set_error(const std::exception& e) noexcept {
  if (!state_) return;
  try {
    set_error(type_name(typeid(e)), e.what());
  } catch (...) {
    detail::count_lost_detail("an error");
  }
}

span::~span() {
  if (!state_) return;
  detail::close_open_sql_spans(
      &state_->trace_id);  // statements still fetched end with their parent
  // Ended after the thread's context is gone (a span kept in a thread_local
  // destroyed later): nothing to pop, but its stop is recorded all the same.
  if (!detail::t_hot.context_gone) {
    auto& t = detail::this_thread();
    // Pop this span, and any inner one left open above it (spans are RAII, so
    // only a moved trace can leave one), but never another trace's entries.
    for (std::size_t i = t.stack.size(); i-- > 2;) {
      if (t.stack[i] == state_->trace_id) {
        t.stack.resize(i);
        break;
      }
    }
    detail::sync_hot(t);
  }
  if (!detail::g_enabled.load(std::memory_order_relaxed)) return;
  try {
    auto* extra = new detail::record_extra;
    extra->name = std::move(state_->name);
    extra->info = std::move(state_->info);
    if (state_->etype.empty() && std::uncaught_exceptions() > state_->exceptions_at_start) {
      state_->etype = "exception";
      state_->message = "left by an exception";
    }
    if (!state_->etype.empty()) {
      extra->failed = true;
      extra->error.etype = std::move(state_->etype);
      extra->error.message = std::move(state_->message);
    }
    detail::record r{detail::record_kind::span_stop,
                     state_->base_id,
                     state_->trace_id,
                     state_->parent_id,
                     state_->start_ns,
                     detail::span_clock(),
                     nullptr,
                     nullptr,
                     -1,
                     0,
                     extra};
    detail::push(r);
  } catch (...) {
    detail::count_lost_detail("a span's end");
  }
}

headers outgoing_headers() {
  const context c = current_context();
  if (!c.valid()) return {};
  const auto& keys = detail::current().hmac_keys;
  if (keys.empty()) return {};
  const auto s = sign_context(c.base_id, c.parent_id, keys.front());
  headers out{{"X-Trace-Info", s.info},
              {"X-Trace-HMAC", s.hmac},
              {"traceparent", format_traceparent(c.base_id, c.parent_id)}};
  if (!c.tracestate.empty()) out["tracestate"] = c.tracestate;
  return out;
}

}  // namespace dbtrace
