// SPDX-License-Identifier: Apache-2.0
// TSC calibration for wall_ns(). The rate (nanoseconds per tick) is measured
// against CLOCK_MONOTONIC_RAW, which NTP neither steps nor slews; each anchor
// pins the TSC to the system (wall) clock, so steps of that are followed at
// the next anchor without skewing durations.
#include "clock.hpp"

#include <time.h>

#include <fstream>
#include <mutex>
#include <string>
#include <thread>

namespace dbtrace::detail {

clock_anchor g_anchor;
std::atomic<bool> g_fast_clock{false};

namespace {

#if defined(__x86_64__)
std::mutex g_mutex;           // one writer at a time
std::int64_t g_base_raw = 0;  // the calibration baseline: raw monotonic time and TSC
std::uint64_t g_base_tsc = 0;
std::uint64_t g_q32 = 0;  // the rate in force

bool kernel_trusts_tsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string source;
  return f >> source && source == "tsc";
}

std::int64_t raw_monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// The wall clock, the raw monotonic clock and the TSC read as close together
// as possible.
struct clock_sample {
  std::int64_t wall = 0, raw = 0;
  std::uint64_t tsc = 0;
};
clock_sample sample() {
  clock_sample best;
  std::uint64_t narrowest = ~0ULL;
  for (int i = 0; i < 5; ++i) {
    const std::uint64_t t0 = __rdtsc();
    const std::int64_t wall = system_ns();
    const std::int64_t raw = raw_monotonic_ns();
    const std::uint64_t t1 = __rdtsc();
    if (t1 - t0 < narrowest) {
      narrowest = t1 - t0;
      best = {wall, raw, t0 + (t1 - t0) / 2};
    }
  }
  return best;
}

// Nanoseconds per tick since the baseline, 32.32; 0 when it cannot be told.
std::uint64_t rate_since_base(const clock_sample& now) {
  if (now.tsc <= g_base_tsc || now.raw <= g_base_raw) return 0;
  return static_cast<std::uint64_t>((static_cast<u128>(now.raw - g_base_raw) << 32) /
                                    (now.tsc - g_base_tsc));
}

void publish(const clock_sample& at, std::uint64_t q32) {
  const std::uint64_t sequence = g_anchor.sequence.load(std::memory_order_relaxed);
  g_anchor.sequence.store(sequence + 1, std::memory_order_relaxed);  // odd: being rewritten
  std::atomic_thread_fence(std::memory_order_release);
  g_anchor.wall_ns.store(at.wall, std::memory_order_relaxed);
  g_anchor.tsc.store(at.tsc, std::memory_order_relaxed);
  g_anchor.ns_per_tick_q32.store(q32, std::memory_order_relaxed);
  g_anchor.sequence.store(sequence + 2, std::memory_order_release);
  g_q32 = q32;
}
#endif

}  // namespace

clock_converter::clock_converter() noexcept {
#if defined(__x86_64__)
  // A seqlock read: retried while the exporter rewrites the anchor (never,
  // on the exporter itself, which is the one that rewrites it).
  for (;;) {
    const std::uint64_t seen = g_anchor.sequence.load(std::memory_order_acquire);
    wall_ = g_anchor.wall_ns.load(std::memory_order_relaxed);
    tsc_ = g_anchor.tsc.load(std::memory_order_relaxed);
    q32_ = g_anchor.ns_per_tick_q32.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if ((seen & 1) == 0 && seen == g_anchor.sequence.load(std::memory_order_relaxed)) return;
    std::this_thread::yield();
  }
#endif
}

void start_fast_clock() noexcept {
#if defined(__x86_64__)
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_fast_clock.load() || !kernel_trusts_tsc()) return;
  try {
    const clock_sample base = sample();
    g_base_raw = base.raw;
    g_base_tsc = base.tsc;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const clock_sample now = sample();
    const std::uint64_t q32 = rate_since_base(now);
    if (q32 == 0) return;
    publish(now, q32);
    g_fast_clock.store(true);
  } catch (...) {
  }
#endif
}

void reanchor_fast_clock() noexcept {
#if defined(__x86_64__)
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_fast_clock.load()) return;
  try {
    if (!kernel_trusts_tsc()) {  // the kernel moved off the TSC (it found it unstable)
      g_fast_clock.store(false);
      return;
    }
    const clock_sample now = sample();
    std::uint64_t q32 = rate_since_base(now);
    if (q32 == 0) {
      // The TSC is behind the baseline (a VM moved to another host, a resume):
      // start a new baseline here and keep the rate until it can be measured.
      g_base_raw = now.raw;
      g_base_tsc = now.tsc;
      q32 = g_q32;
    }
    publish(now, q32);
  } catch (...) {
  }
#endif
}

void lock_clock() noexcept {
#if defined(__x86_64__)
  g_mutex.lock();
#endif
}

void unlock_clock() noexcept {
#if defined(__x86_64__)
  g_mutex.unlock();
#endif
}

}  // namespace dbtrace::detail
