// SPDX-License-Identifier: Apache-2.0
// A 128-bit OSProfiler id (a UUID) as two words: cheap to copy through the queue.
#pragma once

#include <cstdint>

namespace dbtrace::detail {

struct id128 {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  bool empty() const noexcept { return hi == 0 && lo == 0; }
  friend bool operator==(const id128& a, const id128& b) noexcept {
    return a.hi == b.hi && a.lo == b.lo;
  }
};

}  // namespace dbtrace::detail
