// SPDX-License-Identifier: Apache-2.0
// `dbtrace stats`: per-statement figures across the traces of a store.
#pragma once

#include <cstddef>
#include <string>

#include "dbtrace/driver.hpp"

namespace dbtrace::cli {

struct stats_options {
  std::string by = "text", sort = "total", since, until, project, service, trace;
  std::size_t top = 0;
  bool as_json = false, as_csv = false;
};

int show_stats(reader& store, const stats_options& o);

}  // namespace dbtrace::cli
