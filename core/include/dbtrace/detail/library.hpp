// SPDX-License-Identifier: Apache-2.0
// Loading one of dbtrace's own libraries at run time (a store named by its
// scheme, a SOCI backend's error codes), as SOCI loads its backends: for
// dbtrace's components, not part of the API.
#pragma once

#include <string>

namespace dbtrace::detail {

// The address of `symbol` in the library `file` ("libdbtrace_redis.so.0.1"),
// loaded from the directory the dbtrace core was loaded from, else wherever
// the dynamic linker finds it. Null on failure, with `error` saying why (the
// file not found, or a library it needs missing). Never unloaded.
void* library_symbol(const std::string& file, const std::string& symbol,
                     std::string& error) noexcept;

}  // namespace dbtrace::detail
