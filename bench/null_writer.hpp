// SPDX-License-Identifier: Apache-2.0
// A writer that discards spans: the exporter keeps up, so benchmarks measure
// the application's side, not a store.
#pragma once

#include "dbtrace/driver.hpp"

namespace dbtrace::bench {

struct null_writer final : writer {
  write_result write(const std::vector<span_view>&, std::string&) noexcept override {
    return write_result::ok;
  }
};

}  // namespace dbtrace::bench
