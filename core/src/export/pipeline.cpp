// SPDX-License-Identifier: Apache-2.0
// The exporter thread: drain, view, write, retry, count.
#include "pipeline.hpp"

#include "trace/clock.hpp"
#include "trace/ids.hpp"
#include "trace/runtime.hpp"
#include "trace/statements.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace dbtrace::detail {
namespace {
constexpr std::size_t batch_records = 2048;
constexpr auto idle_wait = std::chrono::milliseconds(5);
// After a small batch the exporter waits this long for more to accumulate:
// fewer, larger batches, and far less cache-line traffic with the
// application's threads than draining each record as it arrives.
constexpr auto gather_wait = std::chrono::milliseconds(2);
constexpr auto first_backoff = std::chrono::milliseconds(10);
constexpr auto max_backoff = std::chrono::milliseconds(1000);
// A batch the backend keeps refusing is abandoned after this many tries
// (about half a minute with the backoff), so one bad batch cannot stall the rest.
constexpr int max_attempts = 40;
constexpr auto failure_report_interval = std::chrono::minutes(1);
}  // namespace

struct pipeline::shared {
  record_queue& queue;
  counters& stats;
  std::unique_ptr<writer> out;
  std::string store_name;  // the connection string without secrets, for messages
  std::mutex mutex;
  // Held while the writer is called (its library, SQLite say, may hold locks
  // of its own meanwhile); fork() takes it, so a child never inherits them.
  std::mutex in_writer;
  std::condition_variable wake;     // the exporter waits here
  std::condition_variable settled;  // flush() waits here
  bool stopping = false;
  int flush_waiters = 0;          // flush() calls waiting now
  std::uint64_t flush_calls = 0;  // flush() calls so far: each cuts an unreachable store's backoff
  std::uint64_t unreachable = 0;  // write attempts that found the store unreachable
  bool gave_up = false;  // shutdown found the store unreachable: the rest is dropped (exporter's)
  std::chrono::steady_clock::time_point deadline{};
  bool store_failing = false;  // between a failed write and the next good one
  bool failure_said = false;   // this outage's "cannot write" line was printed
  std::chrono::steady_clock::time_point failure_said_at{};  // the last such line
  bool refusal_reported = false;          // a store refusing part of a batch: said once
  std::atomic<std::uint64_t> flushed{0};  // records settled (written durably or dropped)
  std::uint64_t inflight_events = 0;      // the batch inside writer::write (under mutex)
  bool abandoned = false;  // shutdown gave up waiting and counted the in-flight batch
  bool finished = false;   // the exporter has returned (under mutex)
  std::atomic<bool> warned_full{false};

  shared(record_queue& q, counters& c, std::unique_ptr<writer> w, std::string name)
      : queue(q), stats(c), out(std::move(w)), store_name(std::move(name)) {}

  bool past_deadline() {
    std::lock_guard<std::mutex> lock(mutex);
    return stopping && std::chrono::steady_clock::now() >= deadline;
  }

  // Sleeps for `d` unless shutdown's deadline passes first. After an
  // unreachable store a flush() cuts the sleep short (it gets a fresh
  // attempt's answer), and shutdown() ends it: false, give up.
  bool backoff(std::chrono::milliseconds d, bool store_unreachable) {
    std::unique_lock<std::mutex> lock(mutex);
    const auto calls = flush_calls;
    auto until = std::chrono::steady_clock::now() + d;
    if (stopping) until = std::min(until, deadline);
    wake.wait_until(lock, until, [&] {
      if (stopping && (store_unreachable || std::chrono::steady_clock::now() >= deadline))
        return true;
      return store_unreachable && flush_calls != calls;
    });
    return !(store_unreachable && stopping);
  }

  void report(const std::string& message) {
    std::fprintf(stderr, "dbtrace: %s\n", message.c_str());
  }

  // Writes one batch of `events` events, retrying transient failures with the
  // same views (the retry state is here, never in a writer); returns how many
  // of them were written.
  std::uint64_t deliver(const std::vector<span_view>& batch, std::uint64_t events) {
    auto wait = first_backoff;
    for (int attempt = 1;; ++attempt) {
      std::string error;
      write_result r;
      {
        std::lock_guard<std::mutex> lock(in_writer);
        const driver_call own_store;  // its SQL is dbtrace's, never a span
        r = out->write(batch, error);
      }
      if (r == write_result::ok) {
        if (failure_said) report("writing to " + store_name + " again");
        store_failing = failure_said = false;
        return events;
      }
      stats.failed_writes.fetch_add(1, std::memory_order_relaxed);
      if (r == write_result::partly) {
        const std::uint64_t refused = std::min(events, out->refused_events());
        if (!refusal_reported)
          report(store_name + " refused " + std::to_string(refused) + " of " +
                 std::to_string(events) + " events: " + error +
                 " (dropped; later refusals are counted in dbtrace::stats() only)");
        refusal_reported = true;
        return events - refused;
      }
      // Said once an outage, and once a minute at most: a store that fails
      // now and then (a busy file shared by two processes) does not flood
      // stderr; every failed attempt is counted in failed_writes.
      const auto now = std::chrono::steady_clock::now();
      if (!store_failing && (failure_said_at == std::chrono::steady_clock::time_point{} ||
                             now - failure_said_at >= failure_report_interval)) {
        report("cannot write to " + store_name + ": " + error +
               (r == write_result::rejected ? " (dropped" : " (retrying") +
               "; failures are said at most once a minute, all are counted in dbtrace::stats())");
        failure_said = true;
        failure_said_at = now;
      }
      store_failing = true;
      const bool unreachable_now = r == write_result::unreachable;
      if (unreachable_now) {
        std::lock_guard<std::mutex> lock(mutex);
        ++unreachable;
        settled.notify_all();  // a flush() waiting returns false
        if (stopping) gave_up = true;
      }
      if (gave_up || r == write_result::rejected || attempt >= max_attempts || past_deadline())
        return 0;
      if (!backoff(wait, unreachable_now)) {
        gave_up = true;
        return 0;
      }
      wait = std::min(wait * 2, max_backoff);
    }
  }

  // Makes what was written visible; a writer that finds it lost something
  // after all is counted and reported like a failed write.
  void flush_writer() {
    std::string error;
    std::unique_lock<std::mutex> lock(in_writer);
    const driver_call own_store;
    const bool flushed = out->flush(error);
    lock.unlock();
    if (flushed) return;
    stats.failed_writes.fetch_add(1, std::memory_order_relaxed);
    report("cannot flush " + store_name + ": " + error);
  }

  // Everything settled so far is visible: wake flush().
  void publish() {
    flushed.store(stats.settled.load(), std::memory_order_release);
    std::lock_guard<std::mutex> lock(mutex);
    settled.notify_all();
  }
};

pipeline::pipeline(record_queue& queue, std::size_t capacity, std::size_t capacity_bytes,
                   counters& stats, std::unique_ptr<writer> w, std::string store_name)
    : queue_(queue),
      capacity_(capacity),
      capacity_bytes_(static_cast<std::int64_t>(capacity_bytes)),
      stats_(stats),
      shared_(std::make_shared<shared>(queue, stats, std::move(w), std::move(store_name))) {
  // The exporter takes none of the application's signals: a process-directed
  // signal (SIGTERM, SIGUSR1, SIGCHLD, …) goes to a thread of the application,
  // whose handler may expect to run there. A new thread inherits the mask of
  // its creator, so every signal is blocked around its creation.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    thread_ = std::thread(&pipeline::run, shared_);
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  pthread_setname_np(thread_.native_handle(), "dbtrace-export");
}

pipeline::~pipeline() {
  shutdown(std::chrono::seconds(5));
}

namespace {
// Each recording thread enqueues through a producer token of its own while
// the exporter keeps up: moodycamel's implicit path finds the thread's
// producer in a hash table on every push, a token goes straight to it.
//
// A token's producer keeps every block it ever filled (it reuses them once
// they are empty), so a thread that queued n records holds n/128 blocks for
// good. The token is therefore used only while fewer than
// `token_path_records` are queued in all: no thread holds more than about
// 34 blocks (~0.5 MB), however long the exporter falls behind. Past that,
// and for a thread that has no token, the implicit path takes the record; its
// emptied blocks go back to the queue's free list.
constexpr std::int64_t token_path_records = 4096;

moodycamel::ProducerToken* token_of(const hot_context& t) noexcept {
  return static_cast<moodycamel::ProducerToken*>(t.producer_token);
}

// Deletes the thread's token when the thread exits: its producer becomes free
// for a later thread, and what it queued stays queued for the exporter.
struct producer_owner {
  ~producer_owner() {
    delete token_of(t_hot);
    t_hot.producer_token = nullptr;
    t_hot.producer_queue = nullptr;
    t_hot.producer_gone = true;
  }
};

// Binds this thread to `q` (its first push, or a queue replaced by init);
// leaves no token when none can be made (out of memory, thread exiting).
[[gnu::noinline, gnu::cold]] void bind_producer(record_queue& q) noexcept {
  if (t_hot.producer_gone) return;
  thread_local producer_owner owner;
  (void)owner;
  // A token of a previous queue: runtime.cpp never frees a queue, so it can go.
  delete token_of(t_hot);
  t_hot.producer_token = nullptr;
  try {
    auto token = std::make_unique<moodycamel::ProducerToken>(q);
    if (token->valid()) t_hot.producer_token = token.release();
  } catch (...) {  // bad_alloc: this thread takes the implicit path
  }
  t_hot.producer_queue = &q;
}

// About what a JSON value takes on the heap: its nodes, strings and keys.
// Deeper than 32 levels it is not looked into (a generic span's info is the
// application's, and no recursion may run that deep here).
std::size_t json_footprint(const nlohmann::json& j, int depth = 0) noexcept {
  constexpr std::size_t node = sizeof(nlohmann::json);
  if (j.is_string()) return node + j.get_ref<const std::string&>().capacity();
  if (depth >= 32 || !j.is_structured()) return node;
  std::size_t bytes = node;
  if (j.is_object())
    for (const auto& [key, value] : j.items())
      bytes += 48 + key.capacity() + json_footprint(value, depth + 1);  // a map node
  else
    for (const auto& value : j) bytes += json_footprint(value, depth + 1);
  return bytes;
}

std::size_t footprint(const record_extra& x) noexcept {
  return sizeof(record_extra) + x.name.capacity() + x.unprepared.capacity() +
         x.error.etype.capacity() + x.error.message.capacity() + x.error.sqlstate.capacity() +
         x.error.category.capacity() + json_footprint(x.params) + json_footprint(x.info);
}

// `queued`: records queued and not yet settled, all threads together.
bool enqueue(record_queue& q, const record& r, std::int64_t queued) noexcept {
  // (__builtin_expect: [[unlikely]] is C++20.)
  if (__builtin_expect(t_hot.producer_queue != &q, 0)) bind_producer(q);
  // try_enqueue never allocates: the token's producer takes blocks from those
  // allocated at init or freed since, and falls back when there are none.
  return (queued < token_path_records && t_hot.producer_token &&
          q.try_enqueue(*token_of(t_hot), r)) ||
         q.enqueue(r);
}
}  // namespace

// [[gnu::hot]]: beside the rest of the per-statement path (sql_span.cpp).
[[gnu::hot]] void pipeline::push(record& r) noexcept {
  // Signed: the exporter may settle a record before its push is counted.
  const auto queued =
      static_cast<std::int64_t>(stats_.enqueued_sql.load(std::memory_order_relaxed) +
                                stats_.enqueued_other.load(std::memory_order_relaxed) -
                                stats_.settled.load(std::memory_order_relaxed));
  std::int64_t bytes = 0;
  bool fits = queued < static_cast<std::int64_t>(capacity_);
  if (__builtin_expect(r.extra && fits, 0)) {  // texts not interned, params, errors, span info
    bytes = static_cast<std::int64_t>(r.extra->bytes = footprint(*r.extra));
    fits =
        stats_.extra_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes <= capacity_bytes_;
  }
  if (fits && enqueue(queue_, r, queued)) {
    (r.kind == record_kind::sql ? stats_.enqueued_sql : stats_.enqueued_other)
        .fetch_add(1, std::memory_order_release);
    return;
  }
  if (bytes) stats_.extra_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  stats_.dropped_full.fetch_add(event_count(r), std::memory_order_relaxed);
  delete r.extra;
  if (!shared_->warned_full.exchange(true, std::memory_order_relaxed))
    std::fprintf(stderr,
                 "dbtrace: queue full, dropping events (see queue_size, queue_bytes, "
                 "dbtrace::stats())\n");
}

void pipeline::run(std::shared_ptr<shared> s) {
  std::vector<record> records(batch_records);
  std::vector<span_view> views;
  views.reserve(batch_records);
  bool dirty = false;
  auto next_anchor = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() >= next_anchor) {
      reanchor_fast_clock();  // follow the system clock (NTP) about once a second
      next_anchor = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    const std::size_t n = s->queue.try_dequeue_bulk(records.begin(), records.size());
    if (n == 0) {
      if (dirty) {
        s->flush_writer();
        dirty = false;
        s->publish();
      }
      std::unique_lock<std::mutex> lock(s->mutex);
      if (s->stopping) break;
      s->wake.wait_for(lock, idle_wait);
      continue;
    }
    views.clear();
    std::uint64_t count = 0;
    const clock_converter clock;
    for (std::size_t i = 0; i < n; ++i) {
      record& r = records[i];
      count += event_count(r);
      // The application's thread read the clock raw (span_clock); times of
      // day are made here. Never an end before its start: the wall clock may
      // be stepped back between.
      r.start_ns = clock.to_wall_ns(r.start_ns);
      if (r.end_ns) r.end_ns = std::max(r.start_ns, clock.to_wall_ns(r.end_ns));
      prepare_deferred(r.extra);
      // A SQL span's own id is drawn here, off the application's thread (sql_span).
      if (r.trace_id == id128{}) r.trace_id = new_span_id(r.base_id);
      views.push_back(view_of(r));
    }
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      s->inflight_events = count;
    }
    const bool small_batch = n < batch_records / 4;
    const std::uint64_t written = s->deliver(views, count);
    std::int64_t extra_bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (records[i].extra) extra_bytes += static_cast<std::int64_t>(records[i].extra->bytes);
      delete records[i].extra;
    }
    if (extra_bytes) s->stats.extra_bytes.fetch_sub(extra_bytes, std::memory_order_relaxed);
    dirty = true;
    {
      std::unique_lock<std::mutex> lock(s->mutex);
      if (s->abandoned) {  // shutdown already counted this batch as dropped
        lock.unlock();
        s->out.reset();  // its connections and files close now that it answered
        return;
      }
      s->inflight_events = 0;
      s->stats.exported.fetch_add(written, std::memory_order_relaxed);
      s->stats.dropped.fetch_add(count - written, std::memory_order_relaxed);
      s->stats.settled.fetch_add(n, std::memory_order_release);
    }
    // Writers are durable per write, so what is settled can be published now:
    // flush() returns under a steady load too.
    s->publish();
    if (s->gave_up || s->past_deadline()) break;
    if (small_batch) {
      std::unique_lock<std::mutex> lock(s->mutex);
      if (!s->stopping && s->flush_waiters == 0) s->wake.wait_for(lock, gather_wait);
    }
  }
  if (dirty) s->flush_writer();
  s->publish();
  std::lock_guard<std::mutex> lock(s->mutex);
  s->finished = true;
  s->settled.notify_all();
}

bool pipeline::flush(std::chrono::milliseconds timeout) noexcept {
  const auto target = stats_.enqueued_records();
  std::unique_lock<std::mutex> lock(shared_->mutex);
  ++shared_->flush_waiters;  // no gathering pauses until it is done
  ++shared_->flush_calls;
  const auto unreachable_before = shared_->unreachable;
  shared_->wake.notify_all();
  const bool done = shared_->settled.wait_for(lock, timeout, [&] {
    return shared_->flushed.load(std::memory_order_acquire) >= target ||
           shared_->unreachable != unreachable_before;
  });
  --shared_->flush_waiters;
  return done && shared_->flushed.load(std::memory_order_acquire) >= target;
}

void pipeline::shutdown(std::chrono::milliseconds deadline) noexcept {
  if (!thread_.joinable()) return;
  const std::uint64_t dropped_before = stats_.dropped.load();
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
    shared_->deadline = std::chrono::steady_clock::now() + deadline;
    shared_->wake.notify_all();
  }
  // Wait for the exporter to drain the queue and return, a little past the
  // deadline at most; a driver call that hangs beyond that keeps the thread
  // (and the shared state it owns) but not us. Not "everything enqueued is
  // settled": a thread still recording (it read the pipeline just before
  // init() or shutdown() retired it) can push after the exporter's last look,
  // and would hold shutdown to its deadline; the discard below counts that.
  std::unique_lock<std::mutex> lock(shared_->mutex);
  const bool done = shared_->settled.wait_until(
      lock, shared_->deadline + std::chrono::milliseconds(200), [&] { return shared_->finished; });
  if (!done) {
    shared_->abandoned = true;
    stats_.dropped.fetch_add(shared_->inflight_events, std::memory_order_relaxed);
  }
  lock.unlock();
  if (done) {
    thread_.join();
  } else {
    thread_.detach();
    shared_->report("shutdown deadline passed with " + shared_->store_name +
                    " not answering; unwritten events are counted as dropped");
  }
  // Whatever the exporter did not take is lost: count it.
  stats_.dropped.fetch_add(discard(queue_), std::memory_order_relaxed);
  if (done && shared_->gave_up)
    shared_->report("shutdown: " + shared_->store_name + " unreachable; " +
                    std::to_string(stats_.dropped.load() - dropped_before) +
                    " unwritten events dropped (counted in dbtrace::stats())");
  if (done) {
    // The writer goes with its pipeline: connections and files close now, not
    // at exit (a stopped pipeline object is kept, a few hundred bytes).
    std::lock_guard<std::mutex> in_writer(shared_->in_writer);
    shared_->out->shutdown(std::chrono::milliseconds(200));
    shared_->out.reset();
  }
  // Everything recorded is now written or counted: a flush() still waiting returns.
  shared_->flushed.store(UINT64_MAX);
  std::lock_guard<std::mutex> relock(shared_->mutex);
  shared_->settled.notify_all();
}

bool pipeline::hold_writer(std::chrono::milliseconds limit) noexcept {
  // Polled rather than a timed mutex: GCC 12's TSan did not see a lock taken
  // by try_lock_for and reported its unlock as one of an unlocked mutex; a
  // fork can afford a millisecond's latency.
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!shared_->in_writer.try_lock()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void pipeline::release_writer() noexcept {
  shared_->in_writer.unlock();
}

std::uint64_t discard(record_queue& q) noexcept {
  std::uint64_t events = 0;
  record r;
  while (q.try_dequeue(r)) {
    events += event_count(r);
    delete r.extra;
  }
  return events;
}

}  // namespace dbtrace::detail
