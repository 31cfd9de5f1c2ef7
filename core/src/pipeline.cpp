// The exporter thread: drain, format, write, retry, count.
#include "pipeline.hpp"

#include "clock.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace dbtrace::detail {
namespace {
constexpr std::size_t batch_records = 512;
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
}  // namespace

struct pipeline::shared {
  record_queue& queue;
  counters& stats;
  std::unique_ptr<driver> drv;
  event_formatter fmt;
  std::string store_name;  // the connection string without secrets, for messages
  std::mutex mutex;
  std::condition_variable wake;     // the exporter waits here
  std::condition_variable settled;  // flush() waits here
  bool stopping = false;
  bool flush_wanted = false;
  std::chrono::steady_clock::time_point deadline{};
  bool store_failing = false;             // for the once-per-outage stderr line
  std::atomic<std::uint64_t> flushed{0};  // events settled and flushed by the driver
  std::uint64_t inflight_events = 0;      // the batch inside driver::write (under mutex)
  bool abandoned = false;  // shutdown gave up waiting and counted the in-flight batch
  std::atomic<bool> warned_full{false};

  shared(record_queue& q, counters& c, std::unique_ptr<driver> d, event_formatter f,
         std::string name)
      : queue(q), stats(c), drv(std::move(d)), fmt(std::move(f)), store_name(std::move(name)) {}

  bool past_deadline() {
    std::lock_guard<std::mutex> lock(mutex);
    return stopping && std::chrono::steady_clock::now() >= deadline;
  }

  // Sleeps for `d` unless shutdown's deadline passes first.
  void backoff(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> lock(mutex);
    auto until = std::chrono::steady_clock::now() + d;
    if (stopping) until = std::min(until, deadline);
    wake.wait_until(lock, until,
                    [&] { return stopping && std::chrono::steady_clock::now() >= deadline; });
  }

  void report(const std::string& message) {
    std::fprintf(stderr, "dbtrace: %s\n", message.c_str());
  }

  // Writes one batch, retrying transient failures; returns true if written.
  bool deliver(const std::vector<event>& batch) {
    auto wait = first_backoff;
    for (int attempt = 1;; ++attempt) {
      std::string error;
      const write_result r = drv->write(batch, error);
      if (r == write_result::ok) {
        if (store_failing) report("writing to " + store_name + " again");
        store_failing = false;
        return true;
      }
      stats.failed_writes.fetch_add(1, std::memory_order_relaxed);
      if (!store_failing) {
        report("cannot write to " + store_name + ": " + error +
               (r == write_result::retry ? " (retrying; see dbtrace::stats())" : " (dropped)"));
        store_failing = true;
      }
      if (r == write_result::rejected || attempt >= max_attempts || past_deadline()) return false;
      backoff(wait);
      wait = std::min(wait * 2, max_backoff);
    }
  }
};

pipeline::pipeline(record_queue& queue, std::size_t capacity, counters& stats,
                   std::unique_ptr<driver> d, event_formatter fmt, std::string store_name)
    : queue_(queue),
      capacity_(capacity),
      stats_(stats),
      shared_(std::make_shared<shared>(queue, stats, std::move(d), std::move(fmt),
                                       std::move(store_name))) {
  thread_ = std::thread(&pipeline::run, shared_);
}

pipeline::~pipeline() {
  shutdown(std::chrono::seconds(5));
}

void pipeline::push(record& r) noexcept {
  const auto n = event_count(r);
  // Queued events bound the queued records from above, so this keeps the
  // queue within capacity_ records.
  // Signed: the exporter may settle a record before its push is counted.
  const auto queued = static_cast<std::int64_t>(stats_.enqueued.load(std::memory_order_relaxed) -
                                                stats_.settled.load(std::memory_order_relaxed));
  // The blocks for `capacity_` records are allocated up front, so enqueue
  // reuses them; it allocates only when a thread's first push sets up its slot.
  if (queued < static_cast<std::int64_t>(capacity_) && queue_.enqueue(r)) {
    stats_.enqueued.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  stats_.dropped_full.fetch_add(n, std::memory_order_relaxed);
  delete r.extra;
  if (!shared_->warned_full.exchange(true, std::memory_order_relaxed))
    std::fprintf(stderr,
                 "dbtrace: queue full, dropping events (see queue_size, dbtrace::stats())\n");
}

void pipeline::run(std::shared_ptr<shared> s) {
  std::vector<record> records(batch_records);
  std::vector<event> events;
  bool dirty = false;
  auto next_anchor = std::chrono::steady_clock::now();
  for (;;) {
    if (std::chrono::steady_clock::now() >= next_anchor) {
      reanchor_fast_clock();  // follow the system clock (NTP) about once a second
      next_anchor = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
    const std::size_t n = s->queue.try_dequeue_bulk(records.begin(), records.size());
    if (n == 0) {
      if (dirty) s->drv->flush();
      dirty = false;
      s->flushed.store(s->stats.settled.load());
      std::unique_lock<std::mutex> lock(s->mutex);
      s->settled.notify_all();
      if (s->stopping) break;
      s->wake.wait_for(lock, idle_wait);
      continue;
    }
    std::size_t used = 0;
    std::uint64_t count = 0;
    for (std::size_t i = 0; i < n; ++i) {
      count += event_count(records[i]);
      try {
        s->fmt.add(records[i], events, used);
      } catch (...) {
        delete records[i].extra;  // formatting failed (out of memory): counted below
        records[i].extra = nullptr;
      }
    }
    events.resize(used);
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      s->inflight_events = count;
    }
    const bool small_batch = n < batch_records / 4;
    const bool written = s->deliver(events);
    dirty = true;
    {
      std::lock_guard<std::mutex> lock(s->mutex);
      if (s->abandoned) return;  // shutdown already counted this batch as dropped
      s->inflight_events = 0;
      if (written) {
        s->stats.exported.fetch_add(used, std::memory_order_relaxed);
        s->stats.dropped.fetch_add(count - used, std::memory_order_relaxed);
      } else {
        s->stats.dropped.fetch_add(count, std::memory_order_relaxed);
      }
      s->stats.settled.fetch_add(count, std::memory_order_release);
    }
    if (s->past_deadline()) break;
    if (small_batch) {
      std::unique_lock<std::mutex> lock(s->mutex);
      if (!s->stopping && !s->flush_wanted) s->wake.wait_for(lock, gather_wait);
    }
  }
  if (dirty) s->drv->flush();
  s->flushed.store(s->stats.settled.load());
  std::lock_guard<std::mutex> lock(s->mutex);
  s->settled.notify_all();
}

bool pipeline::flush(std::chrono::milliseconds timeout) noexcept {
  const auto target = stats_.enqueued.load(std::memory_order_acquire);
  std::unique_lock<std::mutex> lock(shared_->mutex);
  shared_->flush_wanted = true;  // no gathering pauses until it is done
  shared_->wake.notify_all();
  const bool done = shared_->settled.wait_for(
      lock, timeout, [&] { return shared_->flushed.load(std::memory_order_acquire) >= target; });
  shared_->flush_wanted = false;
  return done;
}

void pipeline::shutdown(std::chrono::milliseconds deadline) noexcept {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->stopping = true;
    shared_->deadline = std::chrono::steady_clock::now() + deadline;
    shared_->wake.notify_all();
  }
  // Wait for the exporter a little past the deadline; a driver call that hangs
  // beyond that keeps the thread (and the shared state it owns) but not us.
  std::unique_lock<std::mutex> lock(shared_->mutex);
  const bool done = shared_->settled.wait_until(
      lock, shared_->deadline + std::chrono::milliseconds(200),
      [&] { return shared_->flushed.load() >= stats_.enqueued.load(); });
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
