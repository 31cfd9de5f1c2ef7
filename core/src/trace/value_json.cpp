// SPDX-License-Identifier: Apache-2.0
#include "trace/value_json.hpp"

namespace dbtrace::detail {

nlohmann::json to_json(const value& v, int depth) {
  constexpr int max_depth = 64;
  switch (v.type()) {
    case value::kind::null:
      return nullptr;
    case value::kind::boolean:
      return v.as_bool();
    case value::kind::integer:
      return v.as_integer();
    case value::kind::unsigned_integer:
      return v.as_unsigned();
    case value::kind::number:
      return v.as_number();
    case value::kind::string:
      return v.as_string();
    case value::kind::array:
    case value::kind::object:
      break;
  }
  if (depth >= max_depth) return "[dbtrace: nested deeper than 64 levels, not recorded]";
  if (v.type() == value::kind::array) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& e : v.elements()) out.push_back(to_json(e, depth + 1));
    return out;
  }
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [key, member] : v.members()) out[key] = to_json(member, depth + 1);
  return out;
}

}  // namespace dbtrace::detail
