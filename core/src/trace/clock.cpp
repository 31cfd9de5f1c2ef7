// TSC calibration for wall_ns().
#include "clock.hpp"

#include <fstream>
#include <mutex>
#include <string>
#include <thread>

namespace dbtrace::detail {

std::atomic<const clock_anchor*> g_clock_anchor{nullptr};

namespace {

#if defined(__x86_64__)
// Readers hold an anchor for nanoseconds; a ring of slots means one is only
// rewritten seconds after it was replaced.
clock_anchor g_slots[8];
std::size_t g_next_slot = 0;
std::mutex g_mutex;
std::int64_t g_base_wall = 0;  // the first calibration, for a long baseline
std::uint64_t g_base_tsc = 0;
bool g_usable = false;

bool kernel_trusts_tsc() {
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string source;
  return f >> source && source == "tsc";
}

// A (wall, tsc) pair read as close together as possible.
void sample(std::int64_t& wall, std::uint64_t& tsc) {
  std::uint64_t best = ~0ULL;
  for (int i = 0; i < 5; ++i) {
    const std::uint64_t t0 = __rdtsc();
    const std::int64_t w = system_ns();
    const std::uint64_t t1 = __rdtsc();
    if (t1 - t0 < best) {
      best = t1 - t0;
      wall = w;
      tsc = t0 + (t1 - t0) / 2;
    }
  }
}

void publish(std::int64_t wall, std::uint64_t tsc, std::uint64_t q32) {
  clock_anchor& slot = g_slots[g_next_slot++ % 8];
  slot = {wall, tsc, q32};
  g_clock_anchor.store(&slot, std::memory_order_release);
}
#endif

}  // namespace

void start_fast_clock() noexcept {
#if defined(__x86_64__)
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_usable || !kernel_trusts_tsc()) return;
  try {
    sample(g_base_wall, g_base_tsc);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::int64_t wall = 0;
    std::uint64_t tsc = 0;
    sample(wall, tsc);
    if (tsc <= g_base_tsc || wall <= g_base_wall) return;
    const auto q32 = static_cast<std::uint64_t>((static_cast<u128>(wall - g_base_wall) << 32) /
                                                (tsc - g_base_tsc));
    g_usable = true;
    publish(wall, tsc, q32);
  } catch (...) {
  }
#endif
}

void reanchor_fast_clock() noexcept {
#if defined(__x86_64__)
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!g_usable) return;
  std::int64_t wall = 0;
  std::uint64_t tsc = 0;
  sample(wall, tsc);
  if (tsc <= g_base_tsc || wall <= g_base_wall) return;  // the clock stepped back: keep the rate
  const auto q32 = static_cast<std::uint64_t>((static_cast<u128>(wall - g_base_wall) << 32) /
                                              (tsc - g_base_tsc));
  publish(wall, tsc, q32);
#endif
}

}  // namespace dbtrace::detail
