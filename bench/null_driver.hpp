// A driver that discards events: the exporter keeps up, so benchmarks measure
// the application's side, not a store.
#pragma once

#include "dbtrace/driver.hpp"

namespace dbtrace::bench {

struct null_driver final : driver {
  write_result write(const std::vector<event>&, std::string&) noexcept override {
    return write_result::ok;
  }
  std::vector<trace_summary> list_traces(bool) override { return {}; }
  std::vector<stored_event> read_trace(const std::string&) override { return {}; }
};

}  // namespace dbtrace::bench
