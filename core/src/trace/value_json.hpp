// SPDX-License-Identifier: Apache-2.0
// dbtrace::value, the public headers' JSON-shaped type, as the JSON the
// pipeline and the stores work with.
#pragma once

#include <nlohmann/json.hpp>

#include "dbtrace/value.hpp"

namespace dbtrace::detail {

// Deeper than 64 levels a value is replaced by a note (no recursion on the
// application's data may run that deep).
nlohmann::json to_json(const value& v, int depth = 0);

}  // namespace dbtrace::detail
