// SPDX-License-Identifier: Apache-2.0
// init / flush / shutdown / stats: the process-wide recorder.
#include <pthread.h>
#include <unistd.h>
#include <cstdio>

#include <memory>
#include <mutex>
#include <vector>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "pipeline.hpp"
#include "registry.hpp"
#include "trace/clock.hpp"
#include "trace/ids.hpp"
#include "trace/runtime.hpp"
#include "trace/statements.hpp"

namespace dbtrace {
namespace detail {

std::atomic<bool> g_enabled{false};
std::atomic<bool> g_sql{false};
std::atomic<bool> g_record_params{false};
// The running pipeline, or null: a plain global (no first-use guard), beside
// the flags above, which the per-statement path reads too.
std::atomic<pipeline*> g_active{nullptr};

namespace {

struct recorder {
  std::mutex mutex;  // serialises init/flush/shutdown
  // The options in force, read by recording threads without a lock: each
  // init() publishes a new immutable copy; old ones are kept (a thread may be
  // reading one), a few hundred bytes per init().
  std::atomic<const options*> published{nullptr};
  std::vector<std::unique_ptr<const options>> option_history;
  counters stats;
  // The queue outlives pipelines: a producer that raced with shutdown may still
  // push into it. It is replaced only when queue_size changes; the old one is
  // kept (and is empty) for the same reason, and taken back when queue_size
  // returns to its size: reloads cost one queue per size used, not per reload.
  std::unique_ptr<record_queue> queue;
  std::size_t queue_capacity = 0;
  std::vector<std::pair<std::size_t, std::unique_ptr<record_queue>>> retired_queues;
  bool writer_held_for_fork = false;
  std::unique_ptr<pipeline> active;  // published to recording threads as g_active
  // Stopped pipelines are kept (a few hundred bytes each): a producer that
  // loaded g_active just before shutdown may still be inside push().
  std::vector<std::unique_ptr<pipeline>> retired_pipelines;
};

recorder& rec() {
  static auto* r = [] {
    auto* fresh = new recorder;  // never destroyed: threads may outlive statics
    fresh->option_history.push_back(std::make_unique<const options>());
    fresh->published.store(fresh->option_history.back().get());
    return fresh;
  }();
  return *r;
}

std::string hostname() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// fork(): the child has none of the parent's threads, so no exporter. It
// starts untraced (counters at zero, nothing queued) until it calls init()
// again, and draws ids from fresh random state. Every lock init() takes is
// held across the fork (the recorder's, the store registry's, the interning
// tables', the clock's), so none is inherited locked by a thread the child
// does not have. No other path takes two of them in another order. The
// exporter is kept out of its writer too (the fork waits for the batch being
// written, a second at most): the store's library (SQLite, libpq, ...) then
// holds none of its own locks, which the child's store would wait on.
void before_fork() noexcept {
  auto& r = rec();
  r.mutex.lock();
  r.writer_held_for_fork = r.active && r.active->hold_writer(std::chrono::seconds(1));
  lock_store_registry();
  lock_interning();
  lock_clock();
}

void unlock_after_fork() noexcept {
  unlock_clock();
  unlock_interning();
  unlock_store_registry();
  rec().mutex.unlock();
}

void after_fork_in_parent() noexcept {
  auto& r = rec();
  if (r.writer_held_for_fork) r.active->release_writer();
  r.writer_held_for_fork = false;
  unlock_after_fork();
}

void after_fork_in_child() noexcept {
  auto& r = rec();
  g_sql.store(false);
  g_record_params.store(false);
  g_enabled.store(false);
  g_active.store(nullptr);
  // The parent's pipelines and queues may be mid-operation in threads that do
  // not exist here: their memory is left as it is, never touched again (the
  // writer held for the fork with it).
  r.writer_held_for_fork = false;
  (void)r.active.release();
  for (auto& p : r.retired_pipelines) (void)p.release();
  r.retired_pipelines.clear();
  (void)r.queue.release();
  r.queue_capacity = 0;
  for (auto& q : r.retired_queues) (void)q.second.release();
  r.retired_queues.clear();
  r.stats.reset();
  forget_random_state();
  unlock_after_fork();
}

void stop_locked(recorder& r, std::chrono::milliseconds deadline) {
  g_sql.store(false);
  g_record_params.store(false);
  g_enabled.store(false);
  g_active.store(nullptr);
  if (r.active) {
    r.active->shutdown(deadline);
    r.retired_pipelines.push_back(std::move(r.active));
  }
}

}  // namespace

std::chrono::milliseconds seconds(double s) noexcept {
  return std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000.0));
}

// [[gnu::hot]]: beside the rest of the per-statement path (sql_span.cpp).
[[gnu::hot]] const options& current() noexcept {
  return *rec().published.load(std::memory_order_acquire);
}

[[gnu::hot]] void push(record& r) noexcept {
  pipeline* p = g_active.load(std::memory_order_acquire);
  if (!p) {
    delete r.extra;
    return;
  }
  p->push(r);
}

void count_rejected_context() noexcept {
  rec().stats.rejected_contexts.fetch_add(1, std::memory_order_relaxed);
}

__thread unsigned t_driver_calls __attribute__((tls_model("initial-exec"))) = 0;

std::vector<void (*)() noexcept>& sql_init_checks() {
  static std::vector<void (*)() noexcept> checks;
  return checks;
}

void on_sql_init(void (*check)() noexcept) noexcept {
  try {
    auto& r = rec();
    std::lock_guard<std::mutex> lock(r.mutex);
    sql_init_checks().push_back(check);
  } catch (...) {
    count_lost_detail("a shim's attach check");
  }
}

void count_lost_detail(const char* what) noexcept {
  static std::atomic<bool> said{false};
  rec().stats.lost_details.fetch_add(1, std::memory_order_relaxed);
  if (!said.exchange(true, std::memory_order_relaxed))
    std::fprintf(stderr,
                 "dbtrace: %s could not be recorded (out of memory, or the driver failed to "
                 "say); such losses are counted in dbtrace::stats().lost_details\n",
                 what);
}

}  // namespace detail

void init(const options& o) {
  // Validate before touching state: a bad scheme leaves the running pipeline alone.
  init(o, o.enabled ? make_writer({o.connection_string, detail::hostname(), o.project, o.service,
                                   o.filter_error_trace, o})
                    : nullptr);
}

void init(const options& o, std::unique_ptr<writer> w) {
  if (o.queue_size == 0) throw config_error("queue_size: must be at least 1");
  if (o.queue_size > max_queue_size)
    throw config_error("queue_size: " + std::to_string(o.queue_size) + " is more than " +
                       std::to_string(max_queue_size) + " spans");
  static const bool fork_handlers =
      pthread_atfork(detail::before_fork, detail::after_fork_in_parent,
                     detail::after_fork_in_child) == 0;
  (void)fork_handlers;
  auto& r = detail::rec();
  std::lock_guard<std::mutex> lock(r.mutex);
  const options& previous = *r.published.load();
  detail::stop_locked(r, detail::seconds(previous.shutdown_timeout));
  // Interned statements stay valid unless what shapes their text changed.
  const bool texts_change = previous.sanitize_statements != o.sanitize_statements ||
                            previous.max_statement_length != o.max_statement_length;
  r.option_history.push_back(std::make_unique<const options>(o));
  r.published.store(r.option_history.back().get(), std::memory_order_release);
  if (texts_change) detail::reset_statement_cache(o.sanitize_statements, o.max_statement_length);
  r.stats.reset();
  if (!o.enabled || !w) return;
  detail::start_fast_clock();

  if (!r.queue || r.queue_capacity != o.queue_size) {
    if (r.queue) r.retired_queues.emplace_back(r.queue_capacity, std::move(r.queue));
    const auto used = std::find_if(r.retired_queues.begin(), r.retired_queues.end(),
                                   [&](const auto& q) { return q.first == o.queue_size; });
    if (used != r.retired_queues.end()) {
      r.queue = std::move(used->second);
      r.retired_queues.erase(used);
    } else {
      r.queue = std::make_unique<detail::record_queue>(o.queue_size);
    }
    r.queue_capacity = o.queue_size;
  }
  detail::discard(*r.queue);  // leftovers of a producer that raced with shutdown
  // Said once, now: a store that can never work drops (and counts) every span.
  if (const std::string problem = w->permanent_problem(); !problem.empty())
    std::fprintf(stderr, "dbtrace: %s: %s; spans will be dropped and counted\n",
                 redact_connection_string(o.connection_string).c_str(), problem.c_str());
  r.active = std::make_unique<detail::pipeline>(*r.queue, o.queue_size, o.queue_bytes, r.stats,
                                                std::move(w),
                                                redact_connection_string(o.connection_string));
  detail::g_active.store(r.active.get(), std::memory_order_release);
  detail::g_enabled.store(true);
  detail::g_record_params.store(o.trace_sql && o.record_params);
  detail::g_sql.store(o.trace_sql);
  if (o.trace_sql)
    for (const auto check : detail::sql_init_checks()) check();
}

void init_from_file(const std::string& path) {
  init(load_options(path));
}

bool try_init_from_file(const std::string& path) noexcept {
  try {
    init(load_options(path));
    return true;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dbtrace: %s; tracing stays off\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "dbtrace: %s: unreadable; tracing stays off\n", path.c_str());
  }
  return false;
}

const options& current_options() noexcept {
  return detail::current();
}

bool flush() noexcept {
  return flush(detail::seconds(detail::current().flush_timeout));
}

bool flush(std::chrono::milliseconds timeout) noexcept {
  auto& r = detail::rec();
  detail::pipeline* p;
  {
    // Not held while waiting: shutdown() from another thread keeps its deadline.
    // Stopped pipelines are kept, so `p` stays valid.
    std::lock_guard<std::mutex> lock(r.mutex);
    p = r.active.get();
  }
  return p ? p->flush(timeout) : true;
}

void shutdown() noexcept {
  shutdown(detail::seconds(detail::current().shutdown_timeout));
}

void shutdown(std::chrono::milliseconds deadline) noexcept {
  auto& r = detail::rec();
  std::lock_guard<std::mutex> lock(r.mutex);
  detail::stop_locked(r, deadline);
}

statistics stats() noexcept {
  auto& r = detail::rec();
  {
    // A thread that was inside push() while shutdown() stopped the pipeline
    // may have queued a record after the pipeline's last look: with no
    // pipeline running, whatever is still queued is lost, and counted here.
    std::unique_lock<std::mutex> lock(r.mutex, std::try_to_lock);
    if (lock.owns_lock() && !r.active && r.queue)
      r.stats.dropped.fetch_add(detail::discard(*r.queue), std::memory_order_relaxed);
  }
  const auto& c = r.stats;
  statistics s;
  s.recorded = c.enqueued_events() + c.dropped_full.load();
  s.exported = c.exported.load();
  s.dropped = c.dropped.load() + c.dropped_full.load();
  s.failed_writes = c.failed_writes.load();
  s.rejected_contexts = c.rejected_contexts.load();
  s.lost_details = c.lost_details.load();
  return s;
}

}  // namespace dbtrace
