// SPDX-License-Identifier: Apache-2.0
// redis://[:password@]host[:port][/db] — OSProfiler's Redis store: each event
// LPUSHed onto osprofiler_opt:<base_id>, pipelined per batch; with
// filter_error_trace, traces with an error indexed under osprofiler_error:<base_id>.
// Thread safety: see dbtrace/driver.hpp (one exporter thread per writer).
#pragma once

#include "dbtrace/driver.hpp"

namespace dbtrace::drivers {

// The redis:// store.
store_kind redis_store();

}  // namespace dbtrace::drivers
