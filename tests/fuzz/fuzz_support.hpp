// SPDX-License-Identifier: Apache-2.0
// Shared by the libFuzzer harnesses: a property that must hold is checked
// with `must`, which aborts (a crash libFuzzer reports, with the input saved).
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace dbtrace::fuzz {

inline void must(bool holds, const char* property) {
  if (!holds) {
    std::fprintf(stderr, "property broken: %s\n", property);
    std::abort();
  }
}

// The input split at its first '\n' (none: all of it, then empty).
inline std::pair<std::string, std::string> two_parts(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto nl = all.find('\n');
  if (nl == std::string_view::npos) return {std::string(all), {}};
  return {std::string(all.substr(0, nl)), std::string(all.substr(nl + 1))};
}

}  // namespace dbtrace::fuzz
