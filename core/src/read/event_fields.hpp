// SPDX-License-Identifier: Apache-2.0
// Reading stored events, whose payloads are whatever a store (or another
// program) wrote: every lookup tolerates a missing key or a wrong type.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace dbtrace::detail {

// j[key] when j is an object that has it, else null.
inline const nlohmann::ordered_json* member(const nlohmann::ordered_json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

// "db-stop", "rpc-stop": the second event of a span.
inline bool is_stop_event(const std::string& name) {
  constexpr std::string_view tail = "-stop";
  return name.size() >= tail.size() &&
         name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace dbtrace::detail
