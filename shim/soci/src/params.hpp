// SPDX-License-Identifier: Apache-2.0
// Bound values as SOCI holds them, rendered for record_params. Private to the shim.
#pragma once

#include <soci/soci-backend.h>

#include <cstddef>
#include <string>

#include "dbtrace/value.hpp"

namespace dbtrace::soci::detail {

namespace sd = ::soci::details;

// One bound value as the application handed it to SOCI.
struct bound_value {
  std::string name;  // empty for positional binding
  void* data = nullptr;
  sd::exchange_type type = sd::x_integer;
  bool vector = false;
  ::soci::indicator const* indicators = nullptr;  // set at pre_use; may be null
};

// One value of `v` (element `i` of a vector), null for a NULL indicator.
dbtrace::value render(const bound_value& v, std::size_t i);

// How many elements a bound vector holds (0 for types not rendered).
std::size_t vector_size(const bound_value& v);

}  // namespace dbtrace::soci::detail
