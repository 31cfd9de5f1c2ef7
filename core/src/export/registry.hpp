// SPDX-License-Identifier: Apache-2.0
// The registry of stores (registry.cpp), as the rest of core sees it.
#pragma once

namespace dbtrace::detail {

// Held across fork() so that the child never inherits the registry locked by
// a thread it does not have (its init() would wait on it forever).
void lock_store_registry() noexcept;
void unlock_store_registry() noexcept;

}  // namespace dbtrace::detail
