// memory://name — keeps events in this process, for tests and examples.
// Thread safety: all functions may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// A driver whose events land in the named in-process store (shared by every
// memory://name driver of the same name).
std::unique_ptr<driver> make_memory_driver(const std::string& name);

// A copy of what the named store holds, oldest first.
std::vector<event> memory_events(const std::string& name);
void memory_clear(const std::string& name);

// Makes the named store fail its next `n` writes with `result` (tests of retry and drop).
void memory_fail_next_writes(const std::string& name, int n, write_result result);

}  // namespace dbtrace::drivers
