// SPDX-License-Identifier: Apache-2.0
// memory://name — keeps OSProfiler events in this process, for tests and examples.
// Thread safety: all functions may be called from any thread.
#pragma once

#include <string>
#include <vector>

#include "dbtrace/driver.hpp"
#include "dbtrace/osprofiler_event.hpp"

namespace dbtrace::drivers {

// The memory:// store: every writer and reader of the same name shares one
// in-process store.
store_kind memory_store();

// A copy of what the named store holds, oldest first.
std::vector<event> memory_events(const std::string& name);
void memory_clear(const std::string& name);

// Makes the named store fail its next `n` writes with `result` (tests of retry and drop).
void memory_fail_next_writes(const std::string& name, int n, write_result result);

}  // namespace dbtrace::drivers
