// SPDX-License-Identifier: Apache-2.0
// The registry of stores (registry.cpp), as the rest of core sees it.
#pragma once

#include <string>
#include <vector>

#include "dbtrace/driver.hpp"

namespace dbtrace::detail {

// A store built as a library of its own (shared builds): the schemes it
// serves, known before it is loaded, and the file loaded when one is named.
struct loadable_store {
  std::vector<std::string> schemes;
  std::string name;  // "redis": its entry point is dbtrace_store_redis
  std::string file;  // "libdbtrace_redis.so.0.1"
};

// Generated from the stores built (builtin_stores.cpp).
std::vector<store_kind> builtin_stores();
std::vector<loadable_store> loadable_stores();

// Held across fork() so that the child never inherits the registry locked by
// a thread it does not have (its init() would wait on it forever).
void lock_store_registry() noexcept;
void unlock_store_registry() noexcept;

}  // namespace dbtrace::detail
