// `dbtrace trace list` and `dbtrace trace show`.
#pragma once

#include <cstddef>
#include <string>

#include "dbtrace/driver.hpp"

namespace dbtrace::cli {

struct list_options {
  bool errors_only = false, as_json = false;
  std::string sort = "start", since;
  std::size_t limit = 0;
};

int list_traces(reader& store, const list_options& o);

// `trace show` takes a trace id or, as `osprofiler trace show` does, the path
// of a file holding a trace's JSON report: anything that is not a UUID.
bool is_uuid(const std::string& s);

}  // namespace dbtrace::cli
