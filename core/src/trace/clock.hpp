// SPDX-License-Identifier: Apache-2.0
// The clock spans read: the CPU's invariant TSC where the kernel itself
// trusts the TSC (read raw on the application's thread, scaled to wall-clock
// nanoseconds by the exporter), clock_gettime elsewhere. Re-anchored to the
// system clock about once a second by the exporter, so NTP steps and drift
// are followed.
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

// What spans read on the application's thread: while the TSC clock is in
// use, the raw TSC marked by the top bit (a few instructions); otherwise
// wall-clock ns. The exporter turns readings into wall-clock ns (to_wall_ns),
// off the application's thread. Readings of one kind compare as times do.
inline constexpr std::uint64_t tsc_mark = std::uint64_t{1} << 63;
inline std::int64_t span_clock() noexcept {
#if defined(__x86_64__)
  if (g_fast_clock.load(std::memory_order_relaxed))
    return static_cast<std::int64_t>(__rdtsc() | tsc_mark);
#endif
  return system_ns();
}

// Converts span_clock() readings to wall-clock ns with one anchor, taken when
// the converter is made: a batch of records is converted with the same one.
// A TSC reading from before the anchor (a record queued before the exporter
// re-anchored) converts backwards from it, as far as it lies.
class clock_converter {
 public:
  clock_converter() noexcept;
  std::int64_t to_wall_ns(std::int64_t reading) const noexcept {
#if defined(__x86_64__)
    if (reading < 0) {  // marked: TSC ticks
      const auto ticks =
          static_cast<std::int64_t>((static_cast<std::uint64_t>(reading) & ~tsc_mark) - tsc_);
      __extension__ using i128 = __int128;
      return wall_ +
             static_cast<std::int64_t>((static_cast<i128>(ticks) * static_cast<i128>(q32_)) >> 32);
    }
#endif
    return reading;
  }

 private:
  std::int64_t wall_ = 0;
  std::uint64_t tsc_ = 0;
  std::uint64_t q32_ = 0;
};

// The wall clock now (tests, benchmarks; spans read span_clock()).
inline std::int64_t wall_ns() noexcept {
  return clock_converter().to_wall_ns(span_clock());
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
