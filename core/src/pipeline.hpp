// The cold path: a bounded lock-free queue of records, one exporter thread
// that formats them into events in batches and writes them with the driver,
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
#include "format.hpp"
#include "record.hpp"

namespace dbtrace::detail {

// Blocks of 128 records; a producer thread's index covers 128k records before
// it would have to grow (an allocation), so queue_size bounds the queue, not
// moodycamel's per-producer index.
struct queue_traits : moodycamel::ConcurrentQueueDefaultTraits {
  static const std::size_t BLOCK_SIZE = 128;
  static const std::size_t IMPLICIT_INITIAL_INDEX_SIZE = 1024;
};
using record_queue = moodycamel::ConcurrentQueue<record, queue_traits>;

// Counters, in events. The hot path adds to `enqueued` (one atomic per
// record) and, when the queue is full, to `dropped_full`; recorded is their sum.
// What the application's threads write and what the exporter writes sit on
// separate cache lines.
struct counters {
  alignas(64) std::atomic<std::uint64_t> enqueued{0};  // pushed onto the queue
  std::atomic<std::uint64_t> dropped_full{0};          // refused by a full queue
  std::atomic<std::uint64_t> rejected_contexts{0};
  alignas(64) std::atomic<std::uint64_t> settled{0};  // taken off and written or dropped
  std::atomic<std::uint64_t> exported{0};
  std::atomic<std::uint64_t> dropped{0};  // by the exporter or shutdown
  std::atomic<std::uint64_t> failed_writes{0};
  void reset() noexcept {
    for (auto* c : {&enqueued, &dropped_full, &rejected_contexts, &settled, &exported, &dropped,
                    &failed_writes})
      c->store(0);
  }
};

class pipeline {
 public:
  // Starts the exporter thread. `queue` outlives the pipeline (producers may
  // still hold it), `stats` too.
  pipeline(record_queue& queue, std::size_t capacity, counters& stats, std::unique_ptr<driver> d,
           event_formatter fmt, std::string store_name);
  ~pipeline();  // = shutdown with the default deadline

  // Hot path: enqueue or drop and count. Never blocks.
  void push(record& r) noexcept;
  bool flush(std::chrono::milliseconds timeout) noexcept;
  void shutdown(std::chrono::milliseconds deadline) noexcept;

 private:
  struct shared;  // what the exporter thread owns jointly with the pipeline
  static void run(std::shared_ptr<shared> s);
  record_queue& queue_;
  const std::uint64_t capacity_;  // records (a record is one or two events)
  counters& stats_;
  std::shared_ptr<shared> shared_;
  std::thread thread_;
};

// Drops whatever is left in `q` (deleting extras); returns how many events that was.
std::uint64_t discard(record_queue& q) noexcept;

}  // namespace dbtrace::detail
