// SPDX-License-Identifier: Apache-2.0
// The global operator new replaced, for a test binary of its own (include it
// in exactly one file): it counts this thread's allocations while asked, and
// can make one of them throw std::bad_alloc.
#pragma once

#include <cstdlib>
#include <new>

namespace dbtrace::testing {
inline thread_local bool counting_allocations = false;
inline thread_local long allocations = 0;  // counted while counting_allocations
inline thread_local long fail_in = -1;     // allocations until one throws; -1: none will
}  // namespace dbtrace::testing

void* operator new(std::size_t n) {
  using namespace dbtrace::testing;
  if (counting_allocations) ++allocations;
  if (fail_in >= 0 && fail_in-- == 0) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
