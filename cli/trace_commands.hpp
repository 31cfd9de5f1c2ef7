// SPDX-License-Identifier: Apache-2.0
// `dbtrace trace list` and `dbtrace trace show`.
#pragma once

#include <cstddef>
#include <string>

#include "dbtrace/driver.hpp"

namespace dbtrace::cli {

struct list_options {
  bool errors_only = false, as_json = false, reverse = false;
  std::string sort = "start", since;
  std::size_t limit = 0;
};

int list_traces(reader& store, const list_options& o);

// `trace show` takes a trace id or, as `osprofiler trace show` does, the path
// of a file holding a trace's JSON report: anything that is not a UUID.
bool is_uuid(const std::string& s);
// At least 4 and fewer than 36 hex digits and dashes: the start of a trace id.
bool is_id_prefix(const std::string& s);
// The one trace whose id starts with `prefix` (lower case), or empty when
// none does; a usage_error naming some of them when several do.
std::string trace_with_prefix(reader& store, const std::string& prefix);

}  // namespace dbtrace::cli
