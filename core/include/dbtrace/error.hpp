// SPDX-License-Identifier: Apache-2.0
// Exceptions dbtrace throws. Only setup and read-back calls throw: recording never does.
#pragma once

#include <stdexcept>
#include <string>

namespace dbtrace {

// A bad config file, key or value; what() names where (file:line, key or variable).
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A store that cannot be read back (unreachable, no such trace, corrupt data).
class store_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace dbtrace
