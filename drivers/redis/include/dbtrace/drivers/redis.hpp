// redis://[:password@]host[:port][/db] — OSProfiler's Redis store: each event
// LPUSHed onto osprofiler_opt:<base_id>, pipelined per batch; with
// filter_error_trace, traces with an error indexed under osprofiler_error:<base_id>.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per instance).
#pragma once

#include <memory>
#include <string>

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

std::unique_ptr<driver> make_redis_driver(const std::string& uri, bool filter_error_trace);

}  // namespace dbtrace::drivers
