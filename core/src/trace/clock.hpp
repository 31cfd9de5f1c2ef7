// SPDX-License-Identifier: Apache-2.0
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

// Where the TSC stands against the wall clock, rewritten by the exporter
// about once a second while recording threads read it: a seqlock (the
// sequence is odd while it is rewritten; a reader that sees it change reads
// the system clock instead), every field atomic.
struct clock_anchor {
  std::atomic<std::uint64_t> sequence{0};
  std::atomic<std::int64_t> wall_ns{0};  // system clock at `tsc`
  std::atomic<std::uint64_t> tsc{0};
  std::atomic<std::uint64_t> ns_per_tick_q32{0};  // nanoseconds per tick, 32.32 fixed point
};
extern clock_anchor g_anchor;
// False while the TSC is not used (not x86-64, the kernel does not trust it,
// not yet calibrated).
extern std::atomic<bool> g_fast_clock;

inline std::int64_t wall_ns() noexcept {
#if defined(__x86_64__)
  if (g_fast_clock.load(std::memory_order_relaxed)) {
    const std::uint64_t seen = g_anchor.sequence.load(std::memory_order_acquire);
    const std::int64_t wall = g_anchor.wall_ns.load(std::memory_order_relaxed);
    const std::uint64_t tsc = g_anchor.tsc.load(std::memory_order_relaxed);
    const std::uint64_t q32 = g_anchor.ns_per_tick_q32.load(std::memory_order_relaxed);
    const auto ticks = static_cast<std::int64_t>(__rdtsc() - tsc);
    std::atomic_thread_fence(std::memory_order_acquire);
    // A TSC behind its anchor (a VM moved to another host, say) is no use.
    if ((seen & 1) == 0 && seen == g_anchor.sequence.load(std::memory_order_relaxed) && ticks >= 0)
      return wall + static_cast<std::int64_t>((static_cast<u128>(ticks) * q32) >> 32);
  }
#endif
  return system_ns();
}

// Calibrates the TSC against the system clock (takes a few milliseconds the
// first time) when the kernel's clocksource is the TSC; otherwise leaves the
// system clock in use. Called by init.
void start_fast_clock() noexcept;
// Takes a new anchor; the exporter calls it about once a second. Follows the
// kernel: when its clocksource is no longer the TSC, the system clock is used.
void reanchor_fast_clock() noexcept;

// Held across fork(), so that the child never inherits the calibration locked
// (or the anchor half rewritten) by the exporter thread it does not have.
void lock_clock() noexcept;
void unlock_clock() noexcept;

}  // namespace dbtrace::detail
