// SPDX-License-Identifier: Apache-2.0
// Span timestamps come from the TSC where the kernel trusts it; they must
// agree with the system clock, which other services' timestamps come from.
#include <gtest/gtest.h>

#include <cstdlib>
#include <atomic>
#include <thread>
#include <vector>

#include "trace/clock.hpp"

namespace dbtrace::detail {
namespace {

TEST(clock, span_time_agrees_with_the_system_clock) {
  start_fast_clock();
  for (int i = 0; i < 5; ++i) {
    const std::int64_t before = system_ns();
    const std::int64_t ours = wall_ns();
    const std::int64_t after = system_ns();
    // Within 200 µs of the system clock read around it (calibration error
    // over a few milliseconds is far smaller).
    EXPECT_GE(ours, before - 200000);
    EXPECT_LE(ours, after + 200000);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    reanchor_fast_clock();
  }
}

TEST(clock, is_monotonic_between_anchors) {
  start_fast_clock();
  std::int64_t last = wall_ns();
  for (int i = 0; i < 100000; ++i) {
    const std::int64_t now = wall_ns();
    ASSERT_GE(now, last);
    last = now;
  }
}

// Writes an anchor as the exporter would, for the cases a test cannot cause.
void set_anchor(std::int64_t wall, std::uint64_t tsc, std::uint64_t q32) {
  const auto seq = g_anchor.sequence.load();
  g_anchor.sequence.store(seq + 1);
  g_anchor.wall_ns.store(wall);
  g_anchor.tsc.store(tsc);
  g_anchor.ns_per_tick_q32.store(q32);
  g_anchor.sequence.store(seq + 2);
}

bool fast_clock_here() {
  start_fast_clock();
  return g_fast_clock.load();
}

TEST(clock, a_tsc_behind_its_anchor_reads_the_system_clock_until_reanchored) {
  if (!fast_clock_here()) GTEST_SKIP() << "the kernel's clocksource is not the TSC here";
  // As after a VM moved to a host whose TSC is behind: the anchor is ahead of
  // every TSC reading. Unsigned, the difference would wrap to centuries.
  set_anchor(system_ns(), __rdtsc() + (1ull << 40), g_anchor.ns_per_tick_q32.load());
  const std::int64_t before = system_ns();
  const std::int64_t ours = wall_ns();
  EXPECT_GE(ours, before - 200000);
  EXPECT_LE(ours, system_ns() + 200000);
  reanchor_fast_clock();  // and the next anchor takes the TSC as it is
  const std::int64_t again = wall_ns();
  EXPECT_LE(std::llabs(again - system_ns()), 200000);
}

TEST(clock, anchors_are_rewritten_while_threads_read_the_clock) {
  if (!fast_clock_here()) GTEST_SKIP() << "the kernel's clocksource is not the TSC here";
  // Under TSan this is the data-race check; everywhere, no reading is absurd.
  std::atomic<bool> stop{false};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i)
    readers.emplace_back([&stop] {
      while (!stop.load()) {
        const std::int64_t t = wall_ns();
        ASSERT_LE(std::llabs(t - system_ns()), 1000000000LL);
      }
    });
  for (int i = 0; i < 2000; ++i) reanchor_fast_clock();
  stop = true;
  for (auto& r : readers) r.join();
}

}  // namespace
}  // namespace dbtrace::detail
