// The wall clock spans read: the CPU's invariant TSC scaled to wall-clock
// nanoseconds where the kernel itself trusts the TSC (a third of the cost of
// clock_gettime), clock_gettime elsewhere. Re-anchored to the system clock
// about once a second by the exporter, so NTP steps and drift are followed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace dbtrace::detail {

inline std::int64_t system_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

#if defined(__x86_64__)
__extension__ using u128 = unsigned __int128;  // GCC/Clang: exact 64x64-bit products
#endif

struct clock_anchor {
  std::int64_t wall_ns;  // system clock at `tsc`
  std::uint64_t tsc = 0;
  std::uint64_t ns_per_tick_q32;  // nanoseconds per tick, 32.32 fixed point
};

// Null while the TSC is not used (not x86-64, not invariant, not yet calibrated).
extern std::atomic<const clock_anchor*> g_clock_anchor;

inline std::int64_t wall_ns() noexcept {
#if defined(__x86_64__)
  if (const clock_anchor* a = g_clock_anchor.load(std::memory_order_acquire)) {
    const std::uint64_t ticks = __rdtsc() - a->tsc;
    return a->wall_ns +
           static_cast<std::int64_t>((static_cast<u128>(ticks) * a->ns_per_tick_q32) >> 32);
  }
#endif
  return system_ns();
}

// Calibrates the TSC against the system clock (takes a few milliseconds the
// first time) when the kernel's clocksource is the TSC; otherwise leaves the
// system clock in use. Called by init.
void start_fast_clock() noexcept;
// Takes a new anchor; the exporter calls it about once a second.
void reanchor_fast_clock() noexcept;

}  // namespace dbtrace::detail
