// SPDX-License-Identifier: Apache-2.0
// Span timestamps come from the TSC where the kernel trusts it; they must
// agree with the system clock, which other services' timestamps come from.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
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

bool fast_clock_here() {
  start_fast_clock();
  return g_fast_clock.load();
}

TEST(clock, a_reading_from_before_the_anchor_converts_to_its_own_time) {
  if (!fast_clock_here()) GTEST_SKIP() << "the kernel's clocksource is not the TSC here";
  // A record waits in the queue while the exporter re-anchors: its TSC
  // reading lies behind the anchor it is converted with. Unsigned, the
  // difference would wrap to centuries.
  const std::int64_t before = system_ns();
  const std::int64_t reading = span_clock();
  const std::int64_t after = system_ns();
  ASSERT_LT(reading, 0) << "a TSC reading carries its mark";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  reanchor_fast_clock();
  const std::int64_t converted = clock_converter().to_wall_ns(reading);
  EXPECT_GE(converted, before - 200000);
  EXPECT_LE(converted, after + 200000);
}

TEST(clock, a_system_clock_reading_is_kept_as_it_is) {
  const std::int64_t now = system_ns();
  EXPECT_EQ(clock_converter().to_wall_ns(now), now);
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
