// Span timestamps come from the TSC where the kernel trusts it; they must
// agree with the system clock, which other services' timestamps come from.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

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

}  // namespace
}  // namespace dbtrace::detail
