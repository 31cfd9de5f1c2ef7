// SPDX-License-Identifier: Apache-2.0
// The cold path: a bounded lock-free queue of records, one exporter thread
// that turns them into span views in batches and hands them to the writer,
// retrying with backoff, and the counters that account for every event.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <concurrentqueue/concurrentqueue.h>

#include "dbtrace/dbtrace.hpp"
#include "dbtrace/driver.hpp"
#include "trace/record.hpp"

namespace dbtrace::detail {

// Blocks of 128 records; a producer thread's index covers 128k records before
// it would have to grow (an allocation), so queue_size bounds the queue, not
// moodycamel's per-producer index.
struct queue_traits : moodycamel::ConcurrentQueueDefaultTraits {
  static const std::size_t BLOCK_SIZE = 128;
  static const std::size_t IMPLICIT_INITIAL_INDEX_SIZE = 1024;
};
using record_queue = moodycamel::ConcurrentQueue<record, queue_traits>;

// Counters. The hot path adds one to `enqueued_sql` or `enqueued_other` per
// record (one atomic) or, when the queue is full, to `dropped_full` (events);
// the exporter counts records settled and events exported or dropped. What
// the application's threads write and what the exporter writes sit on
// separate cache lines.
struct counters {
  alignas(64) std::atomic<std::uint64_t> enqueued_sql{0};  // SQL span records (two events each)
  std::atomic<std::uint64_t> enqueued_other{0};            // generic span phases (one event each)
  std::atomic<std::uint64_t> dropped_full{0};              // events refused by a full queue
  std::atomic<std::uint64_t> rejected_contexts{0};
  std::atomic<std::uint64_t> lost_details{0};
  // Bytes of the queued records' extras (queue_bytes). Signed: an exporter
  // still settling an earlier init's records may take it below zero.
  std::atomic<std::int64_t> extra_bytes{0};
  alignas(64) std::atomic<std::uint64_t> settled{0};  // records taken off and written or dropped
  std::atomic<std::uint64_t> exported{0};             // events
  std::atomic<std::uint64_t> dropped{0};              // events, by the exporter or shutdown
  std::atomic<std::uint64_t> failed_writes{0};
  std::uint64_t enqueued_records() const noexcept {
    return enqueued_sql.load(std::memory_order_acquire) +
           enqueued_other.load(std::memory_order_acquire);
  }
  std::uint64_t enqueued_events() const noexcept {
    return 2 * enqueued_sql.load() + enqueued_other.load();
  }
  void reset() noexcept {
    for (auto* c : {&enqueued_sql, &enqueued_other, &dropped_full, &rejected_contexts,
                    &lost_details, &settled, &exported, &dropped, &failed_writes})
      c->store(0);
    extra_bytes.store(0);
  }
};

class pipeline {
 public:
  // Starts the exporter thread. `queue` outlives the pipeline (producers may
  // still hold it), `stats` too. `store_name` is the redacted connection string.
  // `capacity` counts records, `capacity_bytes` their extras' bytes.
  pipeline(record_queue& queue, std::size_t capacity, std::size_t capacity_bytes, counters& stats,
           std::unique_ptr<writer> w, std::string store_name);
  ~pipeline();  // = shutdown with the default deadline

  // Hot path: enqueue or drop and count. Never blocks.
  void push(record& r) noexcept;
  // Waits until every record enqueued before the call is settled.
  bool flush(std::chrono::milliseconds timeout) noexcept;
  void shutdown(std::chrono::milliseconds deadline) noexcept;
  // fork(): waits up to `limit` for the exporter to leave the writer and keeps
  // it out until release_writer(); false (nothing held) when it did not leave
  // in time (a store that hangs).
  bool hold_writer(std::chrono::milliseconds limit) noexcept;
  void release_writer() noexcept;

 private:
  struct shared;  // what the exporter thread owns jointly with the pipeline
  static void run(std::shared_ptr<shared> s);
  record_queue& queue_;
  const std::uint64_t capacity_;  // records
  const std::int64_t capacity_bytes_;
  counters& stats_;
  std::shared_ptr<shared> shared_;
  std::thread thread_;
};

// Drops whatever is left in `q` (deleting extras); returns how many events that was.
std::uint64_t discard(record_queue& q) noexcept;

}  // namespace dbtrace::detail
